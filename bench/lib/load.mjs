// Load generators, each run as a child process pinned to the load core (core 0), never the
// proxy's core.
//   saturate(): closed-loop, many connections: wrk if installed (C, cheap per request), else
//               autocannon (Node: on one core it may saturate before the proxy does).
//   paced():    open-loop at a fixed rate (bench/lib/paced-client.mjs) for latency.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { commandExists, start, stop, tail } from './proc.mjs';

const require = createRequire(import.meta.url);
const PACED_CLIENT = fileURLToPath(new URL('./paced-client.mjs', import.meta.url));

export function saturationTool(prefer) {
  if (prefer === 'autocannon') return 'autocannon';
  return commandExists('wrk') ? 'wrk' : 'autocannon';
}

/**
 * Runs the saturating load for `seconds` and returns { requests, seconds, rps, errors, non2xx }.
 * `requests` counts completed responses only.
 */
export async function saturate({ tool, url, connections, seconds, cpu, hostHeader }) {
  if (tool === 'wrk') return runWrk({ url, connections, seconds, cpu, hostHeader });
  return runAutocannon({ url, connections, seconds, cpu, hostHeader });
}

async function runWrk({ url, connections, seconds, cpu, hostHeader }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s'];
  if (hostHeader) args.push('-H', `Host: ${hostHeader}`);
  args.push(url);
  const out = await runToEnd('wrk', 'wrk', args, { cpu, timeoutMs: (seconds + 30) * 1000 });
  const m = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(out);
  if (!m) throw new Error(`wrk: could not read its output:\n${out}`);
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[m[3]];
  const requests = Number(m[1]);
  const secs = Number(m[2]) * unit;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { tool: 'wrk', requests, seconds: secs, rps: requests / secs, errors, non2xx, raw: out };
}

async function runAutocannon({ url, connections, seconds, cpu, hostHeader }) {
  const bin = require.resolve('autocannon/autocannon.js');
  const args = [bin, '-c', String(connections), '-d', String(seconds), '-j', '--timeout', '5'];
  if (hostHeader) args.push('-H', `host=${hostHeader}`);
  args.push(url);
  const out = await runToEnd('autocannon', process.execPath, args, {
    cpu,
    timeoutMs: (seconds + 30) * 1000,
  });
  const line = out.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`autocannon: no JSON result:\n${out}`);
  const r = JSON.parse(line);
  // `requests.total` counts 2xx and non-2xx responses; 1xx are not sent here.
  const requests = r.requests.total;
  const secs = r.duration;
  return {
    tool: 'autocannon',
    requests,
    seconds: secs,
    rps: requests / secs,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Runs the open-loop client; returns its JSON result (latencies in ms). */
export async function paced({ url, rate, seconds, warmupSeconds, cpu, hostHeader }) {
  const args = [PACED_CLIENT, url, String(rate), String(seconds), String(warmupSeconds)];
  if (hostHeader) args.push(hostHeader);
  const out = await runToEnd('paced-client', process.execPath, args, {
    cpu,
    timeoutMs: (seconds + warmupSeconds + 30) * 1000,
  });
  const line = out.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`paced client: no result:\n${out}`);
  return JSON.parse(line);
}

/** Runs a bounded child to completion and returns its stdout; kills it past `timeoutMs`. */
async function runToEnd(name, cmd, args, { cpu, timeoutMs }) {
  const p = start(name, cmd, args, { cpu });
  // 'exit' can come before the last of stdout has been read: the result waits for both.
  const drained = new Promise((resolve) => p.child.stdout.once('close', resolve));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop(p, { graceMs: 1000 });
  }, timeoutMs);
  const exit = await p.exitPromise;
  await drained;
  clearTimeout(timer);
  if (timedOut) throw new Error(`${name}: still running after ${timeoutMs} ms, stopped${tail(p)}`);
  if (exit.error) throw new Error(`${name}: could not start: ${exit.error}`);
  if (exit.code !== 0)
    throw new Error(`${name}: exit ${exit.code ?? exit.signal}${tail(p)}\n${p.stdout}`);
  return p.stdout;
}
