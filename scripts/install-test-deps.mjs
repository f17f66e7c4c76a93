#!/usr/bin/env node
// Installs what the tests need beyond npm packages: Debian packages, each named with the
// command that proves it is there. Suites that need a program add a line here, so that
// `npm run test:all` stays the one command that prepares and runs everything, and CI never
// depends on what a developer's machine happened to have.
import { spawnSync } from 'node:child_process';

const programs = [
  // The gateway TLS tests make their certificates with it (test/integration/gateway-tls).
  { command: 'openssl', pkg: 'openssl' },
];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const needed = programs.filter((p) => !has(p.command)).map((p) => p.pkg);
if (needed.length === 0) process.exit(0);

const root = process.getuid?.() === 0;
const run = (args) => {
  const [cmd, ...rest] = root ? args : ['sudo', ...args];
  const r = spawnSync(cmd, rest, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      `install-test-deps: "${args.join(' ')}" failed; install ${needed.join(' ')} by hand`,
    );
    process.exit(1);
  }
};
console.error(`install-test-deps: installing ${needed.join(' ')}`);
run(['apt-get', 'update']);
run(['apt-get', 'install', '-y', '--no-install-recommends', ...needed]);
