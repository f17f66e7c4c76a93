#!/usr/bin/env node
// What telemetry costs the Weft gateway: the gateway's CPU time per request with telemetry off
// versus on, every configuration offered the same paced request rate at the same time.
//
//   npm run build && node bench/telemetry-cost.mjs               # 5 runs x 12 rounds, ~6 min
//   node bench/telemetry-cost.mjs --trace-split                  # + tracing at 0 % sampling
//   node bench/telemetry-cost.mjs --sampling 0,1,10              # the full telemetry at each rate
//   node bench/telemetry-cost.mjs --export-delays 1000,30000     # + 1 % with spans sent that often
//   node bench/telemetry-cost.mjs --isolate                      # + the metrics subscriber alone
//   node bench/telemetry-cost.mjs --gateway-split                # + startGateway, with/without mTLS
//   node bench/telemetry-cost.mjs --apart                        # one slice after another instead
//   node bench/telemetry-cost.mjs --only 'metrics+log+trace 1%' --rate 1400  # two gateways, busier
//   node bench/telemetry-cost.mjs --runs 1 --rounds 3 --cpu-prof # V8 profiles, to look only
//   node bench/telemetry-cost.mjs --rate sat                     # saturated: wrk per gateway
//
// Configurations (each its own gateway process pinned to core 1, behind its own control plane):
//   off        the gateway's data plane with no telemetry at all (bench/lib/weft-bare-gateway.mjs):
//              nobody subscribes to its diagnostics channels
//   metrics    `weft gateway` as shipped: Istio metrics and weft_* internals, admin listener
//   metrics+log          + `--access-log FILE` (JSON lines to a file)
//   metrics+log+trace 1% + `--otlp-endpoint` to a local OTLP sink, `--trace-sampling 1`
//
// --rate sat measures throughput itself: every gateway saturated at once by its own wrk
// (Debian package `wrk`: C, a few µs per request, so core 0 keeps up where a Node client could
// not), the shared gateway core 100 % busy, and the figure is CPU per request there, i.e. the
// inverse of the requests a saturated core serves. Otherwise (paced):
// Why this shape (docs/performance.md "Cost of telemetry"): on this 2-vCPU machine a closed-loop
// Node load generator cannot saturate the gateway, and a proxy that is not saturated spends more CPU
// per request the less busy it is, so the figure is the gateway's own CPU time per request (all
// its threads, from /proc/<pid>/task/*/schedstat, in ns) at one fixed offered rate, which is
// what a sidecar pays; its inverse is the throughput a saturated gateway core would give.
// The machine's speed drifts by a third from one slice to the next (measured), so in a slice
// every configuration runs at once, each with its own paced client: all see the same seconds,
// and each configuration's ratio to `off` is taken within the slice. A round is one slice;
// the run's figure is the median of its rounds. Separate processes also differ by a few
// percent for as long as they live (measured: the same configuration 1.03 in one run, 1.07 in
// the next), so the run is repeated with fresh processes and the result is the median of the
// runs' medians, with every run's figure shown. Rounds in which other processes took 10 % or
// more of the gateway core are left out; the output says how many counted.
// Everything on 127.0.0.1, bounded in time; only processes started here are stopped.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  coreBusyTicks,
  cpuSnapshot,
  foreignCores,
  median,
  threadCpuNs,
  ticksPerSecond,
} from './lib/measure.mjs';
import { quartiles, roundOrder, startPacer, writeResults } from './lib/pacer.mjs';
import {
  commandExists,
  installCleanup,
  pinSelf,
  sleep,
  start,
  stop,
  waitForReadyLine,
} from './lib/proc.mjs';
import { saturate } from './lib/load.mjs';
import { startOtlpSink } from './lib/otlp-sink.mjs';
import { startWeft } from './lib/weft.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD_CPU = 0;
const PROXY_CPU = 1;
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '12' },
    slice: { type: 'string', default: '3' },
    // Requests per second offered to each gateway; with --apart, 3000 is the usual choice;
    // `sat`: saturate every gateway at once (wrk, --connections each); `seq`: one at a time.
    rate: { type: 'string', default: '700' },
    connections: { type: 'string', default: '16' },
    // One configuration's slice after another (the bench's first method) instead of all at once.
    apart: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    // Two more configurations between off and metrics: the bare data plane with the metrics
    // subscriber only, and with prom-client's process metrics too.
    isolate: { type: 'boolean', default: false },
    // Two more, `weft gateway` without the CLI process (bench/lib/weft-start-gateway.mjs) with
    // the full telemetry, with and without its mesh identity: what the CLI and the identity add.
    'gateway-split': { type: 'boolean', default: false },
    // One more: tracing at 0 % sampling (propagation headers and ids, no spans, no exports).
    'trace-split': { type: 'boolean', default: false },
    // Sampling percents of the full configuration, one gateway each (--trace-split adds 0).
    sampling: { type: 'string', default: '1' },
    // More gateways at 1 %, each exporting every N ms (OTEL_BSP_SCHEDULE_DELAY; default 5000).
    'export-delays': { type: 'string' },
    // Priority of this run's processes (renice, needs root): on a shared machine, so that
    // others' work interrupts the gateways less. 0 leaves it.
    nice: { type: 'string', default: '-10' },
    // A round counts only if others used less than this share of the gateway core in it (if
    // no round of a run does, all of that run's are used, with a warning).
    'max-foreign': { type: 'string', default: '0.1' },
    // Only these configurations (comma-separated names) besides `off`: fewer gateways share the
    // core, so each can be offered more requests per second before it saturates.
    only: { type: 'string' },
    // With --rate seq: requests per slice.
    requests: { type: 'string', default: '4000' },
  },
});
const RUNS = Number(opts.runs);
const ROUNDS = Number(opts.rounds);
const SLICE = Number(opts.slice);
// `seq`: one request after another on one connection; a number: paced, open loop.
const SEQ = opts.rate === 'seq';
const SAT = opts.rate === 'sat';
const RATE = SEQ || SAT ? 0 : Number(opts.rate);
const CONNECTIONS = Number(opts.connections);
if (SAT && !commandExists('wrk')) {
  process.stderr.write('telemetry-cost: --rate sat needs wrk (Debian package `wrk`)\n');
  process.exit(2);
}
const NICE = Number(opts.nice);
// Longer than the span exporter's first interval (5 s), so its one-off start is not measured.
const WARMUP_S = 7;
const IDLE_S = 5;
const MAX_FOREIGN = Number(opts['max-foreign']);
const log = (m) => process.stderr.write(`${m}\n`);

/** The configurations compared, `off` first (the reference of every ratio). */
function configurations(sinkUrl, accessLog) {
  const bare = join(HERE, 'lib/weft-bare-gateway.mjs');
  const traced = (file, percent) => [
    '--access-log',
    file,
    '--otlp-endpoint',
    sinkUrl,
    '--trace-sampling',
    percent,
  ];
  return [
    { name: 'off', gatewayScript: bare },
    ...(opts.isolate
      ? [
          { name: 'off+series', gatewayScript: bare, env: { WEFT_BENCH_METRICS: 'series' } },
          { name: 'off+series+process', gatewayScript: bare, env: { WEFT_BENCH_METRICS: 'all' } },
          {
            name: 'off+series+process+log',
            gatewayScript: bare,
            env: { WEFT_BENCH_METRICS: 'all', WEFT_BENCH_ACCESS_LOG: `${accessLog}.bare-log` },
          },
          {
            name: 'off+series+process+log+trace 1%',
            gatewayScript: bare,
            env: {
              WEFT_BENCH_METRICS: 'all',
              WEFT_BENCH_ACCESS_LOG: `${accessLog}.bare-trace`,
              WEFT_BENCH_TRACE: `${sinkUrl},1`,
            },
          },
        ]
      : []),
    ...(opts['gateway-split']
      ? [
          ['start+log+trace 1%', '1'],
          ['start+log+trace 1% no-mtls', '0'],
        ].map(([name, mtls]) => ({
          name,
          gatewayScript: join(HERE, 'lib/weft-start-gateway.mjs'),
          env: {
            WEFT_BENCH_ACCESS_LOG: `${accessLog}.${mtls === '1' ? 'start' : 'start-plain'}`,
            WEFT_BENCH_TRACE: `${sinkUrl},1`,
            WEFT_BENCH_MTLS: mtls,
          },
        }))
      : []),
    { name: 'metrics', gatewayArgs: [] },
    { name: 'metrics+log', gatewayArgs: ['--access-log', `${accessLog}.log`] },
    ...[...new Set([...(opts['trace-split'] ? ['0'] : []), ...opts.sampling.split(',')])].map(
      (p) => ({
        name: `metrics+log+trace ${p}%`,
        gatewayArgs: traced(`${accessLog}.trace${p}`, p),
      }),
    ),
    ...(opts['export-delays']?.split(',') ?? []).map((ms) => ({
      name: `metrics+log+trace 1% export ${ms}ms`,
      gatewayArgs: traced(`${accessLog}.export${ms}`, '1'),
      env: { OTEL_BSP_SCHEDULE_DELAY: ms },
    })),
  ];
}

/** Starts every configuration's gateway (fresh processes) and its paced client. */
async function startPeers(configs, { tmp, backendPort, profDir, run }) {
  const peers = [];
  for (const c of configs) {
    const slug = c.name.replace(/[^a-z0-9]+/gi, '-');
    const w = await startWeft({
      tmp: join(tmp, `${run}-${slug}`),
      backendPort,
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
      pacer: SAT ? undefined : startPacer(url, { rate: SEQ ? 'seq' : RATE, cpu: LOAD_CPU }),
    });
  }
  return peers;
}

async function stopPeers(peers) {
  for (const p of [...peers].reverse()) {
    if (p.pacer !== undefined) {
      p.pacer.end();
      await stop(p.pacer.proc);
    }
    await stop(p.proc);
    for (const e of p.extra ?? []) await stop(e);
  }
}

/** Lowers the processes' nice value (root only); false when it could not. */
function renice(pids) {
  if (NICE === 0) return true;
  try {
    execFileSync('renice', ['-n', String(NICE), '-p', ...pids.map(String)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * One slice of load on one gateway: its paced client's `requests`, or (--rate sat) wrk for
 * `seconds`. Resolves to { requests, p50, p99, bad, errors } (latencies NaN when saturated:
 * a saturated proxy's latency is its queue, not its cost).
 */
async function drive(p, requests, seconds) {
  if (!SAT) return { requests, ...(await p.pacer.run(requests)) };
  const r = await saturate({
    tool: 'wrk',
    url: p.url,
    connections: CONNECTIONS,
    seconds,
    cpu: LOAD_CPU,
  });
  return { requests: r.requests, p50: NaN, p99: NaN, bad: r.non2xx, errors: r.errors };
}

/**
 * One round: every configuration's slice, all at once (or one after another with --apart).
 * Returns a Map from peer to its figures, ratio to `off` included.
 */
async function runRound(peers, r, perSlice) {
  const round = new Map();
  const order = roundOrder(peers, r);
  for (const group of opts.apart ? order.map((p) => [p]) : [order]) {
    const s0 = cpuSnapshot();
    const k0 = coreBusyTicks(PROXY_CPU);
    const t0 = process.hrtime.bigint();
    const c0 = group.map((p) => threadCpuNs(p.proc.pid));
    const lats = await Promise.all(group.map((p) => drive(p, perSlice, SLICE)));
    const cpuNs = group.map((p, i) => threadCpuNs(p.proc.pid) - c0[i]);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const coreS = (coreBusyTicks(PROXY_CPU) - k0) / ticksPerSecond();
    const foreign = foreignCores(s0, cpuSnapshot());
    // Share of the gateway core that others used during the slice.
    const ours = cpuNs.reduce((a, b) => a + b, 0) / 1e9;
    const foreignOnCore = Math.max(0, (coreS - ours) / wallS);
    group.forEach((p, i) =>
      round.set(p, {
        usPerRequest: cpuNs[i] / 1e3 / lats[i].requests,
        rps: lats[i].requests / wallS,
        coreBusy: coreS / wallS,
        foreign,
        foreignOnCore,
        p50: lats[i].p50,
        p99: lats[i].p99,
        errors: lats[i].bad + lats[i].errors,
      }),
    );
  }
  const off = round.get(peers[0]);
  const clean = [...round.values()].every((m) => m.foreignOnCore < MAX_FOREIGN);
  for (const m of round.values()) {
    m.clean = clean;
    m.ratio = m.usPerRequest / off.usPerRequest;
  }
  return round;
}

async function main() {
  installCleanup();
  if (!pinSelf(LOAD_CPU)) log('warning: taskset not available: nothing is pinned');
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-telemetry-cost-'));
  const sink = await startOtlpSink();
  const backend = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
    cpu: LOAD_CPU,
  });
  const profDir = join(HERE, 'results', 'profiles');
  const accessLog = join(tmp, 'access');
  // --only keeps the named configurations (`off` always, as every ratio's reference).
  const only = opts.only?.split(',').map((n) => n.trim());
  const configs = configurations(sink.url, accessLog).filter(
    (c) => only === undefined || c.name === 'off' || only.includes(c.name),
  );
  // Per configuration: every run's rounds (arrays of figures).
  const runs = configs.map(() => []);
  // Per configuration: every run's CPU ms per second with no traffic.
  const idle = configs.map(() => []);
  let peers = [];
  let reniced;
  const perSlice = SEQ ? Number(opts.requests) : Math.round(RATE * SLICE);
  try {
    const b = await waitForReadyLine(backend);
    reniced = renice([process.pid, backend.pid]);
    if (opts['cpu-prof']) mkdirSync(profDir, { recursive: true });
    const load0 = os.loadavg();
    for (let run = 0; run < RUNS; run++) {
      peers = await startPeers(configs, { tmp, backendPort: b.port, profDir, run });
      log(`run ${run + 1}/${RUNS}: ${peers.map((p) => `${p.name} pid ${p.proc.pid}`).join(', ')}`);
      reniced =
        renice(peers.flatMap((p) => [p.proc.pid, ...(p.pacer ? [p.pacer.proc.pid] : [])])) &&
        reniced;
      // Warm-up (JIT, connections, the first series and log lines, and the first span export,
      // which loads and compiles the exporter: ~100 ms once), not recorded.
      await Promise.all(peers.map((p) => drive(p, SEQ ? 5000 : RATE * WARMUP_S, WARMUP_S)));
      const rounds = [];
      for (let r = 0; r < ROUNDS; r++) {
        const round = await runRound(peers, r, perSlice);
        rounds.push(round);
        const worst = Math.max(...[...round.values()].map((m) => m.foreignOnCore));
        log(
          `  round ${r + 1}/${ROUNDS}: ${peers
            .map((p) => {
              const m = round.get(p);
              return `${p.name} ${m.usPerRequest.toFixed(1)} µs (x${m.ratio.toFixed(3)}${SAT ? `, ${m.rps.toFixed(0)}/s` : ''})`;
            })
            .join(
              '; ',
            )}; gateway core ${(round.get(peers[0]).coreBusy * 100).toFixed(0)}% busy, others used ${(worst * 100).toFixed(0)}% of it${round.get(peers[0]).clean ? '' : ' (not counted)'}`,
        );
      }
      // What each gateway costs with no traffic at all (timers: metrics, log flush, exports).
      const c0 = peers.map((p) => threadCpuNs(p.proc.pid));
      const t0 = process.hrtime.bigint();
      await sleep(IDLE_S * 1000);
      const idleS = Number(process.hrtime.bigint() - t0) / 1e9;
      peers.forEach((p, i) => idle[i].push((threadCpuNs(p.proc.pid) - c0[i]) / 1e6 / idleS));
      const anyClean = rounds.some((round) => round.get(peers[0]).clean);
      if (!anyClean)
        log(`  warning: no round of run ${run + 1} was clean: all of them counted, unreliable`);
      peers.forEach((p, i) =>
        runs[i].push(rounds.map((round) => round.get(p)).filter((m) => m.clean || !anyClean)),
      );
      await stopPeers(peers);
      peers = [];
    }
    const load1 = os.loadavg();
    const pct = (ratio) => `${((1 - 1 / ratio) * 100).toFixed(1)} %`;
    const how = SEQ
      ? `${perSlice} requests one after another on one connection`
      : SAT
        ? `${SLICE} s of wrk with ${CONNECTIONS} connections (saturated, closed loop)`
        : `${SLICE} s at ${RATE} requests/s (paced, open loop)`;
    const counted = runs[0].reduce((a, rounds) => a + rounds.length, 0);
    let md = `Telemetry cost: ${RUNS} runs (fresh processes) x ${ROUNDS} rounds; in a round ${opts.apart ? 'each gateway in turn' : 'every gateway at once'} gets ${how}; gateway CPU per request; node ${process.version}, ${os.cpus().length} vCPUs; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end; ${counted} of ${RUNS * ROUNDS} rounds counted (others < ${MAX_FOREIGN * 100}% of the gateway core); ${reniced ? `processes at nice ${NICE}` : 'not reniced'}\n\n`;
    md +=
      '| gateway | CPU µs per request | × off (median of runs) | each run (median of its rounds) | quartiles of all rounds | throughput cost | requests/s | p50 ms | p99 ms | errors | idle: CPU ms per s |\n|---|---|---|---|---|---|---|---|---|---|---|\n';
    configs.forEach((c, i) => {
      const all = runs[i].flat();
      const perRun = runs[i].map((rounds) => median(rounds.map((m) => m.ratio)));
      const ratio = median(perRun);
      const [q1, q3] = quartiles(all.map((m) => m.ratio));
      const errors = all.reduce((a, m) => a + m.errors, 0);
      md += `| ${c.name} | ${median(all.map((m) => m.usPerRequest)).toFixed(1)} | ${ratio.toFixed(3)} | ${perRun.map((x) => x.toFixed(3)).join(', ')} | ${q1.toFixed(3)}–${q3.toFixed(3)} | ${i === 0 ? '-' : pct(ratio)} | ${median(all.map((m) => m.rps)).toFixed(0)} | ${(median(all.map((m) => m.p50)) ?? NaN).toFixed(2)} | ${(median(all.map((m) => m.p99)) ?? NaN).toFixed(2)} | ${errors} | ${median(idle[i]).toFixed(2)} |\n`;
    });
    md +=
      '\nThroughput cost = 1 − 1/ratio: what a gateway core that is saturated would lose, when CPU per request is what limits it.\n';
    const busy = median(runs[0].flat().map((m) => m.coreBusy));
    md += `Gateway core busy (median of rounds): ${(busy * 100).toFixed(0)} %.\n`;
    md += `OTLP sink received ${sink.seen.requests} export requests, ${(sink.seen.bytes / 1e3).toFixed(1)} KB.\n`;
    process.stdout.write(md);
    writeResults('telemetry-cost', {
      rate: SEQ ? 'seq' : SAT ? 'sat' : RATE,
      slice: SEQ ? perSlice : SLICE,
      apart: opts.apart,
      load: [load0, load1],
      configs: configs.map((c, i) => ({ name: c.name, runs: runs[i], idleMsPerS: idle[i] })),
    });
  } finally {
    await stopPeers(peers);
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
