// A long-lived paced client (lib/paced-client.mjs in `serve` mode) for one URL: run(n) sends n
// requests at the set rate and resolves with their latencies. It keeps its connections between
// runs, so the orchestrator can read a proxy's CPU time right before and after exactly those
// requests. Plus what interleaved rounds need: each round's order, the spread of per-round
// figures (quartiles, beside medians), and where the figures are written.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { start } from './proc.mjs';

const PACED_CLIENT = fileURLToPath(new URL('./paced-client.mjs', import.meta.url));

/** `host`: the Host header to send (a sidecar's outbound listener routes by it). */
export function startPacer(url, { rate, cpu, host }) {
  const args = [PACED_CLIENT, url, String(rate), 'serve'];
  if (host !== undefined) args.push('0', host);
  const proc = start('pacer', process.execPath, args, { cpu, stdin: 'pipe' });
  const lines = createInterface({ input: proc.child.stdout })[Symbol.asyncIterator]();
  return {
    proc,
    async run(n) {
      proc.child.stdin.write(`${n}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error(`pacer for ${url} ended${proc.stderr}`);
      return JSON.parse(value);
    },
    end: () => proc.child.stdin.end(),
  };
}

/** Quartiles of a list (nearest rank), for the spread of per-round ratios. */
export function quartiles(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  return [at(0.25), at(0.75)];
}

/**
 * The order of round `r`: rotated by r, and reversed every other round, so that no
 * configuration always follows another.
 */
export function roundOrder(peers, r) {
  const rotated = peers.map((_, i) => peers[(i + r) % peers.length]);
  return r % 2 ? rotated.reverse() : rotated;
}

/** Writes a run's figures to bench/results/<name>-<time>.json. */
export function writeResults(name, data) {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-${Date.now()}.json`), JSON.stringify(data, null, 2));
}
