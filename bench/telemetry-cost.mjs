#!/usr/bin/env node
// What telemetry costs the Weft gateway: the gateway's CPU time per request with telemetry off
// versus on, at the same paced request rate, in many short interleaved slices.
//
//   npm run build && node bench/telemetry-cost.mjs               # 10 rounds of 4 x 3 s, ~3 min
//   node bench/telemetry-cost.mjs --rate seq                     # one request at a time instead
//   node bench/telemetry-cost.mjs --isolate                      # + the metrics subscriber alone
//   node bench/telemetry-cost.mjs --rounds 16 --saturate         # + closed-loop slices
//   node bench/telemetry-cost.mjs --rounds 3 --cpu-prof          # V8 profiles, to look only
//
// Configurations (each its own gateway process pinned to core 1, behind its own control plane):
//   off        the gateway's data plane with no telemetry at all (bench/lib/weft-bare-gateway.mjs):
//              nobody subscribes to its diagnostics channels
//   metrics    `weft gateway` as shipped: Istio metrics and weft_* internals, admin listener
//   metrics+log          + `--access-log FILE` (JSON lines to a file)
//   metrics+log+trace 1% + `--otlp-endpoint` to a local OTLP sink, `--trace-sampling 1`
//
// Why this shape (docs/performance.md "Cost of telemetry"): on this 2-vCPU machine a closed-loop
// load generator shares core 0 with the backend, so it cannot saturate the gateway (measured:
// the gateway's core 32-77 % busy), and its req/s follows whatever else runs on core 0; a
// proxy that is not saturated also spends more CPU per request the less busy it is (fewer
// requests per event-loop turn). Both made the old medians swing 2x for one configuration.
// So the figure here is the gateway's own CPU time per request (all its threads, from
// /proc/<pid>/task/*/schedstat, in ns) at one fixed offered rate for every configuration, which
// is what a sidecar pays; its inverse is the throughput a saturated gateway core would give.
// Each round runs one slice per configuration, back to back, in a rotated order, and takes each
// configuration's ratio to `off` within the round; the result is the median of those ratios,
// with their quartiles, so a machine that changes speed between rounds cancels out. Rounds in
// which other processes took 10 % or more of the gateway's core (from /proc/stat's cpu1 line,
// less the gateway's own time) are left out, and the processes run at nice -10 (root only) so
// that a shared machine interrupts them less; the output says how many rounds counted.
// Everything on 127.0.0.1, bounded in time; only processes started here are stopped.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { saturate, saturationTool } from './lib/load.mjs';
import {
  coreBusyTicks,
  cpuSnapshot,
  foreignCores,
  median,
  threadCpuNs,
  ticksPerSecond,
} from './lib/measure.mjs';
import { quartiles, roundOrder, startPacer, writeResults } from './lib/pacer.mjs';
import { installCleanup, pinSelf, start, stop, waitForReadyLine } from './lib/proc.mjs';
import { startWeft } from './lib/weft.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD_CPU = 0;
const PROXY_CPU = 1;
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    slice: { type: 'string', default: '3' },
    rate: { type: 'string', default: '3000' },
    saturate: { type: 'boolean', default: false },
    connections: { type: 'string', default: '50' },
    'cpu-prof': { type: 'boolean', default: false },
    // Two more configurations between off and metrics: the bare data plane with the metrics
    // subscriber only, and with prom-client's process metrics too.
    isolate: { type: 'boolean', default: false },
    // Priority of this run's processes (renice, needs root): on a shared machine, so that
    // others' work interrupts the gateway less. 0 leaves it.
    nice: { type: 'string', default: '-10' },
    // A round counts only if others used less than this share of the gateway's core in
    // every one of its slices (if no round does, all are used, with a warning).
    'max-foreign': { type: 'string', default: '0.1' },
    // With --rate seq: requests per slice.
    requests: { type: 'string', default: '4000' },
  },
});
const ROUNDS = Number(opts.rounds);
const SLICE = Number(opts.slice);
// `seq`: one request after another on one connection; a number: paced, open loop.
const SEQ = opts.rate === 'seq';
const RATE = SEQ ? 0 : Number(opts.rate);
const CONNECTIONS = Number(opts.connections);
const NICE = Number(opts.nice);
const MAX_FOREIGN = Number(opts['max-foreign']);
const log = (m) => process.stderr.write(`${m}\n`);

/** An OTLP/HTTP sink: takes every export, answers 200, counts requests and bytes. */
async function startOtlpSink() {
  const seen = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (c) => (seen.bytes += c.length));
    req.on('end', () => {
      seen.requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, server };
}

async function main() {
  installCleanup();
  if (!pinSelf(LOAD_CPU)) log('warning: taskset not available: nothing is pinned');
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-telemetry-cost-'));
  const sink = await startOtlpSink();
  const backend = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
    cpu: LOAD_CPU,
  });
  const peers = [];
  const profDir = join(HERE, 'results', 'profiles');
  try {
    const b = await waitForReadyLine(backend);
    const accessLog = join(tmp, 'access.log');
    const configs = [
      { name: 'off', gatewayScript: join(HERE, 'lib/weft-bare-gateway.mjs') },
      ...(opts.isolate
        ? [
            {
              name: 'off+series',
              gatewayScript: join(HERE, 'lib/weft-bare-gateway.mjs'),
              env: { WEFT_BENCH_METRICS: 'series' },
            },
            {
              name: 'off+series+process',
              gatewayScript: join(HERE, 'lib/weft-bare-gateway.mjs'),
              env: { WEFT_BENCH_METRICS: 'all' },
            },
          ]
        : []),
      { name: 'metrics', gatewayArgs: [] },
      { name: 'metrics+log', gatewayArgs: ['--access-log', `${accessLog}.1`] },
      {
        name: 'metrics+log+trace 1%',
        gatewayArgs: [
          '--access-log',
          `${accessLog}.2`,
          '--otlp-endpoint',
          sink.url,
          '--trace-sampling',
          '1',
        ],
      },
    ];
    if (opts['cpu-prof']) mkdirSync(profDir, { recursive: true });
    for (const c of configs) {
      const slug = c.name.replace(/[^a-z0-9]+/gi, '-');
      const w = await startWeft({
        tmp: join(tmp, slug),
        backendPort: b.port,
        proxyCpu: PROXY_CPU,
        loadCpu: LOAD_CPU,
        // Node 20 refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
        proxyNodeArgs: opts['cpu-prof']
          ? [
              '--cpu-prof',
              `--cpu-prof-dir=${profDir}`,
              `--cpu-prof-name=telemetry-${slug}.cpuprofile`,
            ]
          : [],
        ...(c.gatewayScript ? { gatewayScript: c.gatewayScript } : { gatewayArgs: c.gatewayArgs }),
        gatewayEnv: c.env,
      });
      const url = `http://127.0.0.1:${w.port}/`;
      peers.push({
        ...c,
        ...w,
        url,
        pacer: startPacer(url, { rate: SEQ ? 'seq' : RATE, cpu: LOAD_CPU }),
        rounds: [],
      });
      log(`${c.name}: gateway pid ${w.proc.pid} on 127.0.0.1:${w.port}`);
    }
    let reniced = NICE === 0;
    if (NICE !== 0) {
      const pids = [
        process.pid,
        backend.pid,
        ...peers.flatMap((p) => [p.proc.pid, p.pacer.proc.pid]),
      ];
      try {
        execFileSync('renice', ['-n', String(NICE), '-p', ...pids.map(String)], {
          stdio: 'ignore',
        });
        reniced = true;
      } catch {
        log(
          `note: could not renice to ${NICE} (not root?): others' work may interrupt the gateways`,
        );
      }
    }
    // Warm-up (JIT, connections, the first series and log lines), not recorded.
    for (const p of peers) await p.pacer.run(SEQ ? 5000 : RATE * 2);
    const tool = saturationTool();
    const perSlice = SEQ ? Number(opts.requests) : Math.round(RATE * SLICE);
    const load0 = os.loadavg();
    for (let r = 0; r < ROUNDS; r++) {
      const order = roundOrder(peers, r);
      const round = new Map();
      for (const p of order) {
        const s0 = cpuSnapshot();
        const k0 = coreBusyTicks(PROXY_CPU);
        const t0 = process.hrtime.bigint();
        const c0 = threadCpuNs(p.proc.pid);
        const lat = await p.pacer.run(perSlice);
        const cpuNs = threadCpuNs(p.proc.pid) - c0;
        const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
        const coreS = (coreBusyTicks(PROXY_CPU) - k0) / ticksPerSecond();
        const m = {
          usPerRequest: cpuNs / 1e3 / perSlice,
          foreign: foreignCores(s0, cpuSnapshot()),
          // Share of the gateway's core that others used during the slice.
          foreignOnCore: Math.max(0, (coreS - cpuNs / 1e9) / wallS),
          p50: lat.p50,
          p99: lat.p99,
          errors: lat.bad + lat.errors,
        };
        if (opts.saturate) {
          const c1 = threadCpuNs(p.proc.pid);
          const sat = await saturate({
            tool,
            url: p.url,
            connections: CONNECTIONS,
            seconds: SLICE,
            cpu: LOAD_CPU,
          });
          const cpu = (threadCpuNs(p.proc.pid) - c1) / 1e9;
          m.rps = sat.rps;
          m.busy = cpu / sat.seconds;
          m.perCpuSecond = sat.requests / cpu;
          m.errors += sat.errors + sat.non2xx;
        }
        round.set(p, m);
      }
      const off = round.get(peers[0]);
      const clean = [...round.values()].every((m) => m.foreignOnCore < MAX_FOREIGN);
      for (const [p, m] of round) {
        m.clean = clean;
        m.ratio = m.usPerRequest / off.usPerRequest;
        if (opts.saturate) m.satRatio = off.perCpuSecond / m.perCpuSecond;
        p.rounds.push(m);
      }
      log(
        `round ${r + 1}/${ROUNDS}: ${peers
          .map((p) => {
            const m = round.get(p);
            const sat = opts.saturate
              ? `, ${m.rps.toFixed(0)} req/s at ${(m.busy * 100).toFixed(0)}% busy`
              : '';
            return `${p.name} ${m.usPerRequest.toFixed(1)} µs (x${m.ratio.toFixed(3)}${sat})`;
          })
          .join(
            '; ',
          )}; others used ${median([...round.values()].map((m) => m.foreign)).toFixed(2)} cores, ${(Math.max(...[...round.values()].map((m) => m.foreignOnCore)) * 100).toFixed(0)}% of the gateway core at most${clean ? '' : ' (not counted)'}`,
      );
    }
    const cleanRounds = peers[0].rounds.filter((m) => m.clean).length;
    const counted = (p) => (cleanRounds > 0 ? p.rounds.filter((m) => m.clean) : p.rounds);
    if (cleanRounds === 0)
      log(
        `warning: in every round others used ${MAX_FOREIGN * 100}% or more of the gateway core: all rounds counted, figures unreliable`,
      );
    const med = (p, k) => median(counted(p).map((x) => x[k]));
    const load1 = os.loadavg();
    const pct = (ratio) => `${((1 - 1 / ratio) * 100).toFixed(1)} %`;
    const how = SEQ
      ? `${perSlice} requests one after another on one connection`
      : `${SLICE} s at ${RATE} requests/s (paced, open loop)`;
    let md = `Telemetry cost: ${ROUNDS} rounds x ${peers.length} slices of ${how}, gateway CPU per request; node ${process.version}, ${os.cpus().length} vCPUs; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end; other processes used a median ${median(peers.flatMap((p) => p.rounds.map((m) => m.foreign))).toFixed(2)} cores during the slices; ${cleanRounds > 0 ? cleanRounds : 'no'} of ${ROUNDS} rounds had the gateway core to themselves (others < ${MAX_FOREIGN * 100}% of it in every slice)${cleanRounds > 0 ? ' and are the ones counted' : ', so all are counted: unreliable'}; ${reniced ? `processes at nice ${NICE}` : 'not reniced'}\n\n`;
    md +=
      '| gateway | CPU µs per request (median) | × off (median of rounds) | quartiles | throughput cost | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|---|\n';
    for (const p of peers) {
      const ratio = med(p, 'ratio');
      const [q1, q3] = quartiles(counted(p).map((m) => m.ratio));
      md += `| ${p.name} | ${med(p, 'usPerRequest').toFixed(1)} | ${ratio.toFixed(3)} | ${q1.toFixed(3)}–${q3.toFixed(3)} | ${p === peers[0] ? '-' : pct(ratio)} | ${med(p, 'p50').toFixed(2)} | ${med(p, 'p99').toFixed(2)} | ${p.rounds.reduce((a, m) => a + m.errors, 0)} |\n`;
    }
    md +=
      '\nThroughput cost = 1 − 1/ratio: what a gateway core that is saturated would lose, when CPU per request is what limits it.\n';
    if (opts.saturate) {
      md += `\nClosed loop (${tool} -c${CONNECTIONS}, ${SLICE} s slices, same rounds):\n\n| gateway | requests/s (median) | gateway core busy | requests per gateway CPU-second | cost (median of rounds) |\n|---|---|---|---|---|\n`;
      for (const p of peers)
        md += `| ${p.name} | ${med(p, 'rps').toFixed(0)} | ${(med(p, 'busy') * 100).toFixed(0)} % | ${med(p, 'perCpuSecond').toFixed(0)} | ${p === peers[0] ? '-' : pct(med(p, 'satRatio'))} |\n`;
    }
    const logs = [1, 2].map((i) => {
      try {
        return statSync(`${accessLog}.${i}`).size;
      } catch {
        return 0;
      }
    });
    md += `\nAccess logs written: ${(logs[0] / 1e6).toFixed(1)} MB and ${(logs[1] / 1e6).toFixed(1)} MB; OTLP sink received ${sink.seen.requests} export requests, ${(sink.seen.bytes / 1e3).toFixed(1)} KB.\n`;
    process.stdout.write(md);
    writeResults('telemetry-cost', {
      rate: SEQ ? 'seq' : RATE,
      slice: SEQ ? perSlice : SLICE,
      load: [load0, load1],
      peers: peers.map((p) => ({ name: p.name, rounds: p.rounds })),
    });
  } finally {
    for (const p of peers.reverse()) {
      p.pacer.end();
      await stop(p.pacer.proc);
      await stop(p.proc);
      for (const e of p.extra ?? []) await stop(e);
    }
    await stop(backend);
    sink.server.close();
    rmSync(tmp, { recursive: true, force: true });
    if (opts['cpu-prof'])
      log(`profiles in ${profDir}: node bench/profile-summary.mjs <file> (slowed by the profiler)`);
  }
}

main().catch((err) => {
  process.stderr.write(`telemetry-cost: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
