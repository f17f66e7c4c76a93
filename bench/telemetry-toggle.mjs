#!/usr/bin/env node
// What each part of the telemetry costs the gateway, measured inside one process: the data plane
// twice (without and with a tracer) and the metrics and access log switched on and off by a
// signal (bench/lib/weft-toggle-gateway.mjs). bench/telemetry-cost.mjs compares separate
// processes, which differ by up to 4 points with the same configuration, so it cannot tell
// components apart below that; here every configuration is the same process, and its ratio to
// `off` is taken within a round of short slices, one configuration after another.
//
//   npm run build && node bench/telemetry-toggle.mjs          # 3 processes x 12 rounds, ~9 min
//   node bench/telemetry-toggle.mjs --rate 2800               # paced instead of saturated
//   node bench/telemetry-toggle.mjs --sampling 0              # tracing without spans
//
// Configurations (one process):
//   off                    the plane without a tracer, metrics and access log off
//   metrics+log            the same plane, the proxy's metrics (no process metrics) and the
//                          access log (JSON lines to a file) on
//   metrics+log+trace N%   the plane with a tracer (OTLP to a local sink, N % sampled)
//   trace N%               that plane with metrics and access log off
// Not here: prom-client's process metrics (they cannot be stopped once started) and what
// `weft gateway` adds besides telemetry; bench/telemetry-cost.mjs --isolate has those.
//
// Saturated by default: wrk (Debian package `wrk`) with 16 connections for each slice; the
// figure is the gateway's CPU time per request (all threads, /proc schedstat), whose inverse is
// what its saturated core serves. Each slice is preceded by a second of the same load, not
// measured, so that a configuration's code is warm again after the switch. Everything on
// 127.0.0.1, bounded in time; only processes started here are stopped.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { coreBusyTicks, median, threadCpuNs, ticksPerSecond } from './lib/measure.mjs';
import { quartiles, roundOrder, startPacer, writeResults } from './lib/pacer.mjs';
import {
  commandExists,
  installCleanup,
  pinSelf,
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
    runs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '12' },
    slice: { type: 'string', default: '2' },
    // `sat`: wrk, closed loop; a number: requests per second, paced (open loop).
    rate: { type: 'string', default: 'sat' },
    connections: { type: 'string', default: '16' },
    sampling: { type: 'string', default: '1' },
    // A round counts only if other processes used less than this share of the gateway core.
    'max-foreign': { type: 'string', default: '0.1' },
  },
});
const RUNS = Number(opts.runs);
const ROUNDS = Number(opts.rounds);
const SLICE = Number(opts.slice);
const SAT = opts.rate === 'sat';
const RATE = SAT ? 0 : Number(opts.rate);
const WARM_S = 1;
const MAX_FOREIGN = Number(opts['max-foreign']);
const log = (m) => process.stderr.write(`${m}\n`);
if (SAT && !commandExists('wrk')) {
  log('telemetry-toggle: saturating needs wrk (Debian package `wrk`); or give --rate N');
  process.exit(2);
}

const P = opts.sampling;
const CONFIGS = [
  { name: 'off', plane: 'port', on: false },
  { name: 'metrics+log', plane: 'port', on: true },
  { name: `metrics+log+trace ${P}%`, plane: 'tracedPort', on: true },
  { name: `trace ${P}%`, plane: 'tracedPort', on: false },
];

/** Switches metrics and access log to `on`; resolves once the gateway says it did. */
async function setTelemetry(gw, on) {
  if (gw.on === on) return;
  const said = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the gateway did not switch within 10 s')),
      10_000,
    );
    gw.onReport = (o) => {
      if (o.on !== on) return;
      clearTimeout(timer);
      resolve();
    };
  });
  gw.proc.child.kill('SIGUSR2');
  await said;
  gw.on = on;
}

/** Reads the gateway's reports as they come (proc.mjs keeps only the tail of its stdout). */
function watchReports(gw) {
  createInterface({ input: gw.proc.child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      const o = JSON.parse(line);
      if (o.event === 'telemetry') gw.onReport?.(o);
    } catch {
      /* not a report */
    }
  });
}

/** Load on one port for `seconds` (wrk) or `seconds` worth of paced requests. */
async function drive(gw, plane, seconds) {
  if (SAT) {
    const r = await saturate({
      tool: 'wrk',
      url: `http://127.0.0.1:${gw.ready[plane]}/`,
      connections: Number(opts.connections),
      seconds,
      cpu: LOAD_CPU,
    });
    return { requests: r.requests, errors: r.errors + r.non2xx, p50: NaN, p99: NaN };
  }
  const requests = Math.round(RATE * seconds);
  const r = await gw.pacers[plane].run(requests);
  return { requests, errors: r.bad + r.errors, p50: r.p50, p99: r.p99 };
}

async function measureSlice(gw, c) {
  await setTelemetry(gw, c.on);
  await drive(gw, c.plane, WARM_S);
  const k0 = coreBusyTicks(PROXY_CPU);
  const c0 = threadCpuNs(gw.proc.pid);
  const t0 = process.hrtime.bigint();
  const r = await drive(gw, c.plane, SLICE);
  const cpuNs = threadCpuNs(gw.proc.pid) - c0;
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const coreS = (coreBusyTicks(PROXY_CPU) - k0) / ticksPerSecond();
  return {
    usPerRequest: cpuNs / 1e3 / r.requests,
    rps: r.requests / wallS,
    foreignOnCore: Math.max(0, (coreS - cpuNs / 1e9) / wallS),
    errors: r.errors,
    p50: r.p50,
    p99: r.p99,
  };
}

async function main() {
  installCleanup();
  if (!pinSelf(LOAD_CPU)) log('warning: taskset not available: nothing is pinned');
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-telemetry-toggle-'));
  const sink = await startOtlpSink();
  const backend = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
    cpu: LOAD_CPU,
  });
  const perConfig = CONFIGS.map(() => []);
  let gw;
  try {
    const b = await waitForReadyLine(backend);
    for (let run = 0; run < RUNS; run++) {
      const w = await startWeft({
        tmp: join(tmp, `run${run}`),
        backendPort: b.port,
        proxyCpu: PROXY_CPU,
        loadCpu: LOAD_CPU,
        gatewayScript: join(HERE, 'lib/weft-toggle-gateway.mjs'),
        gatewayEnv: {
          WEFT_BENCH_TRACE: `${sink.url},${P}`,
          WEFT_BENCH_ACCESS_LOG: join(tmp, `access-${run}.log`),
        },
      });
      gw = { ...w, on: false, pacers: {} };
      watchReports(gw);
      if (!SAT) {
        for (const plane of new Set(CONFIGS.map((c) => c.plane)))
          gw.pacers[plane] = startPacer(`http://127.0.0.1:${w.ready[plane]}/`, {
            rate: RATE,
            cpu: LOAD_CPU,
          });
      }
      log(`run ${run + 1}/${RUNS}: gateway pid ${gw.proc.pid}`);
      // Warm-up: every configuration once, past the first span export (5 s).
      for (const c of CONFIGS) {
        await setTelemetry(gw, c.on);
        await drive(gw, c.plane, 2);
      }
      for (let r = 0; r < ROUNDS; r++) {
        const round = new Map();
        for (const c of roundOrder(CONFIGS, r)) round.set(c, await measureSlice(gw, c));
        const off = round.get(CONFIGS[0]);
        const clean = [...round.values()].every((m) => m.foreignOnCore < MAX_FOREIGN);
        for (const [c, m] of round) {
          m.ratio = m.usPerRequest / off.usPerRequest;
          if (clean) perConfig[CONFIGS.indexOf(c)].push({ run, ...m });
        }
        log(
          `  round ${r + 1}/${ROUNDS}: ${CONFIGS.map((c) => {
            const m = round.get(c);
            return `${c.name} ${m.usPerRequest.toFixed(1)} µs (x${m.ratio.toFixed(3)}, ${m.rps.toFixed(0)}/s)`;
          }).join('; ')}${clean ? '' : ' (not counted: other processes used the gateway core)'}`,
        );
      }
      for (const p of Object.values(gw.pacers)) {
        p.end();
        await stop(p.proc);
      }
      await stop(gw.proc);
      for (const e of gw.extra) await stop(e);
      gw = undefined;
    }
    const how = SAT
      ? `${SLICE} s of wrk with ${opts.connections} connections (saturated)`
      : `${SLICE} s at ${RATE} requests/s (paced)`;
    let md = `Telemetry toggle: ${RUNS} gateway processes x ${ROUNDS} rounds; a round gives each configuration, one after another in the same process, ${how}; gateway CPU per request; node ${process.version}, ${os.cpus().length} vCPUs; ${perConfig[0].length} of ${RUNS * ROUNDS} rounds counted\n\n`;
    md +=
      '| configuration | CPU µs per request | × off (median of rounds) | each process (median of its rounds) | quartiles of rounds | throughput cost | requests/s | errors |\n|---|---|---|---|---|---|---|---|\n';
    CONFIGS.forEach((c, i) => {
      const all = perConfig[i];
      const ratio = median(all.map((m) => m.ratio));
      const perRun = [...Array(RUNS).keys()].map((run) =>
        median(all.filter((m) => m.run === run).map((m) => m.ratio)),
      );
      const [q1, q3] = quartiles(all.map((m) => m.ratio));
      md += `| ${c.name} | ${median(all.map((m) => m.usPerRequest)).toFixed(1)} | ${ratio.toFixed(3)} | ${perRun.map((x) => (x ?? NaN).toFixed(3)).join(', ')} | ${q1.toFixed(3)}–${q3.toFixed(3)} | ${i === 0 ? '-' : `${((1 - 1 / ratio) * 100).toFixed(1)} %`} | ${median(all.map((m) => m.rps)).toFixed(0)} | ${all.reduce((a, m) => a + m.errors, 0)} |\n`;
    });
    md += `\nOTLP sink received ${sink.seen.requests} export requests, ${(sink.seen.bytes / 1e3).toFixed(1)} KB.\n`;
    process.stdout.write(md);
    writeResults('telemetry-toggle', {
      rate: SAT ? 'sat' : RATE,
      slice: SLICE,
      configs: CONFIGS.map((c, i) => ({ name: c.name, rounds: perConfig[i] })),
    });
  } finally {
    if (gw !== undefined) {
      await stop(gw.proc);
      for (const e of gw.extra) await stop(e);
    }
    await stop(backend);
    sink.server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`telemetry-toggle: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
