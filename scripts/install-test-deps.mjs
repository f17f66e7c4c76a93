#!/usr/bin/env node
// Installs what the tests need beyond npm packages. Today that is nothing from Debian:
// the foundation's tests run on Node alone. Later suites (etcd, Prometheus, Chromium) add
// their Debian packages here, so `npm run test:all` stays the one command that prepares and
// runs everything, and CI never depends on what a developer's machine happened to have.
const needed = [];
if (needed.length === 0) process.exit(0);
