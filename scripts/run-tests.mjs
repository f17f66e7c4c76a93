#!/usr/bin/env node
// Runs the compiled tests with Node's own runner. Node 20's `--test` has no glob support,
// so this script lists the files: unit tests live beside the code (packages/*/dist/**),
// integration tests in test/dist/ and the chaos suite in test/dist/chaos/ (its own target, and
// part of `all`). Usage: run-tests.mjs unit|integration|chaos|all [filter]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const which = process.argv[2] ?? 'unit';
const filter = process.argv[3];

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [];
if (which === 'unit' || which === 'all') {
  for (const pkg of readdirSync('packages')) walk(join('packages', pkg, 'dist'), files);
}
const CHAOS = join('test', 'dist', 'chaos');
if (which === 'integration' || which === 'all')
  files.push(...walk(join('test', 'dist'), []).filter((f) => !f.startsWith(CHAOS)));
if (which === 'chaos' || which === 'all') walk(CHAOS, files);
const chosen = filter ? files.filter((f) => f.includes(filter)) : files;
if (chosen.length === 0) {
  console.error(
    `run-tests: no test files found for '${which}'${filter ? ` matching ${filter}` : ''}`,
  );
  process.exit(1);
}
chosen.sort();
// The CLI contexts that locked control planes and demos write go to a folder of this run, not
// the developer's ~/.weft (and a demo they have running is never the tests' default).
const home = mkdtempSync(join(tmpdir(), 'weft-test-home-'));
const r = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-reporter=spec', ...chosen],
  {
    stdio: 'inherit',
    env: { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn', WEFT_HOME: home },
  },
);
rmSync(home, { recursive: true, force: true });
process.exit(r.status ?? 1);
