#!/usr/bin/env node
// Installs what the tests need beyond npm packages: Debian packages, each named with the
// command that proves it is there. Suites that need a program add a line here, so that
// `npm run test:all` stays the one command that prepares and runs everything, and CI never
// depends on what a developer's machine happened to have.
import { spawnSync } from 'node:child_process';

const programs = [
  // The gateway TLS tests make their certificates with it (test/integration/gateway-tls).
  { command: 'openssl', pkg: 'openssl' },
  // The etcd store tests start their own etcd members (control-plane/src/store/etcd.test.ts,
  // test/integration/etcd-cluster). Installing it may start a system etcd on 2379; the tests
  // never use that one, they pick free ports.
  { command: 'etcd', pkg: 'etcd-server' },
  // The observability tests run a real Prometheus and check every metrics endpoint with
  // promtool, which the same package ships (test/integration/prometheus*).
  { command: 'prometheus', pkg: 'prometheus' },
  { command: 'promtool', pkg: 'prometheus' },
  // The dashboard's browser test drives it through playwright-core (test/browser).
  { command: 'chromium', pkg: 'chromium' },
];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const needed = [...new Set(programs.filter((p) => !has(p.command)).map((p) => p.pkg))];
if (needed.length === 0) process.exit(0);

const root = process.getuid?.() === 0;
const fail = (why) => {
  console.error(
    `install-test-deps: ${why}.\n` +
      `  The tests need: ${needed.join(' ')} (Debian packages).\n` +
      `  Install them as root: apt-get install -y ${needed.join(' ')}`,
  );
  process.exit(1);
};
if (!has('apt-get')) fail('apt-get not found, so this is not a Debian-like system');
if (!root && !has('sudo')) fail('not running as root, and there is no sudo');
const run = (args) => {
  // Never interactive: no debconf questions, and `sudo -n` fails instead of asking a password.
  const apt = ['env', 'DEBIAN_FRONTEND=noninteractive', ...args];
  const [cmd, ...rest] = root ? apt : ['sudo', '-n', ...apt];
  const r = spawnSync(cmd, rest, { stdio: 'inherit' });
  if (r.status !== 0)
    fail(
      `"${args.join(' ')}" failed${root ? '' : ' (not root: it ran through sudo -n, which needs sudo without a password)'}`,
    );
};
console.error(`install-test-deps: installing ${needed.join(' ')}`);
run(['apt-get', 'update']);
run(['apt-get', 'install', '-y', '--no-install-recommends', ...needed]);
const still = programs.filter((p) => needed.includes(p.pkg) && !has(p.command));
if (still.length > 0)
  fail(`installed, but ${still.map((p) => p.command).join(', ')} is not on PATH`);
