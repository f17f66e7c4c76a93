#!/usr/bin/env node
// What telemetry costs the Weft gateway: throughput and latency with telemetry off versus on,
// every configuration measured in the same run, rounds in a rotated order, medians reported.
//
//   npm run build && node bench/telemetry-cost.mjs              # 3 rounds
//   node bench/telemetry-cost.mjs --rounds 5 --seconds 8
//
// Configurations (each its own gateway process, pinned to core 1, behind its own control plane):
//   off        the gateway's data plane with no telemetry at all (bench/lib/weft-bare-gateway.mjs):
//              nobody subscribes to its diagnostics channels
//   metrics    `weft gateway` as shipped: Istio metrics and weft_* internals, admin listener
//   metrics+log          + `--access-log FILE` (JSON lines to a file)
//   metrics+log+trace 1% + `--otlp-endpoint` to a local OTLP sink, `--trace-sampling 1`
//
// Per configuration and round: a saturating closed-loop load (autocannon, or wrk when
// installed; 50 connections) for --seconds, reporting requests/s and requests per proxy
// CPU-second (read from /proc, so a load generator that cannot keep up does not hide the
// cost); then an open-loop paced client at --rate requests/s for --seconds, reporting p50/p99.
// The backend is a node:http server answering 1 KB on core 0, with the load generator.
// Everything on 127.0.0.1, bounded in time; only processes started here are stopped.

import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { paced, saturate, saturationTool } from './lib/load.mjs';
import { cpuSeconds, median } from './lib/measure.mjs';
import { installCleanup, pinSelf, start, stop, waitForReadyLine } from './lib/proc.mjs';
import { startWeft } from './lib/weft.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD_CPU = 0;
const PROXY_CPU = 1;
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(opts.rounds);
const SECONDS = Number(opts.seconds);
const RATE = Number(opts.rate);
const CONNECTIONS = Number(opts.connections);
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
  const tool = saturationTool();
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-telemetry-cost-'));
  const sink = await startOtlpSink();
  const backend = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
    cpu: LOAD_CPU,
  });
  const peers = [];
  try {
    const b = await waitForReadyLine(backend);
    const accessLog = join(tmp, 'access.log');
    const configs = [
      { name: 'off', gatewayScript: join(HERE, 'lib/weft-bare-gateway.mjs') },
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
    for (const c of configs) {
      const w = await startWeft({
        tmp: join(tmp, c.name.replace(/[^a-z0-9]+/gi, '-')),
        backendPort: b.port,
        proxyCpu: PROXY_CPU,
        loadCpu: LOAD_CPU,
        ...(c.gatewayScript ? { gatewayScript: c.gatewayScript } : { gatewayArgs: c.gatewayArgs }),
      });
      peers.push({ ...c, ...w, rounds: [] });
      log(`${c.name}: gateway pid ${w.proc.pid} on 127.0.0.1:${w.port}`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = peers.map((_, i) => peers[(i + r) % peers.length]);
      log(`round ${r + 1}/${ROUNDS}: ${order.map((p) => p.name).join(', ')}`);
      for (const p of order) {
        const url = `http://127.0.0.1:${p.port}/`;
        // Warm-up (JIT, connections), not recorded.
        await saturate({ tool, url, connections: CONNECTIONS, seconds: 2, cpu: LOAD_CPU });
        const cpu0 = cpuSeconds(p.proc.pid);
        const sat = await saturate({
          tool,
          url,
          connections: CONNECTIONS,
          seconds: SECONDS,
          cpu: LOAD_CPU,
        });
        const cpu = cpuSeconds(p.proc.pid) - cpu0;
        const lat = await paced({
          url,
          rate: RATE,
          seconds: SECONDS,
          warmupSeconds: 1,
          cpu: LOAD_CPU,
        });
        const m = {
          rps: sat.rps,
          perCore: sat.requests / cpu,
          busy: cpu / sat.seconds,
          errors: sat.errors + sat.non2xx + lat.bad + lat.errors,
          p50: lat.p50,
          p99: lat.p99,
        };
        p.rounds.push(m);
        log(
          `  ${p.name.padEnd(22)} ${m.rps.toFixed(0)} req/s, ${m.perCore.toFixed(0)} req/CPU-s (core ${(m.busy * 100).toFixed(0)}% busy), p50 ${m.p50?.toFixed(2)} ms, p99 ${m.p99?.toFixed(2)} ms, errors ${m.errors}`,
        );
      }
    }
    const med = (p, k) => median(p.rounds.map((x) => x[k]));
    const rows = peers.map((p) => ({
      name: p.name,
      rps: med(p, 'rps'),
      perCore: med(p, 'perCore'),
      p50: med(p, 'p50'),
      p99: med(p, 'p99'),
      errors: p.rounds.reduce((a, x) => a + x.errors, 0),
    }));
    const base = rows[0];
    let md = `Telemetry cost, ${ROUNDS} rounds (medians), ${SECONDS} s phases, ${tool} -c${CONNECTIONS}, paced ${RATE}/s; node ${process.version}, ${os.cpus().length} cores, load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n\n`;
    md +=
      '| gateway | requests/s | × off | requests per CPU-second | × off | p50 ms | p99 ms | p99 − off | errors |\n|---|---|---|---|---|---|---|---|---|\n';
    for (const r of rows) {
      md += `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / base.rps).toFixed(3)} | ${r.perCore.toFixed(0)} | ${(r.perCore / base.perCore).toFixed(3)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r === base ? '-' : `${r.p99 - base.p99 >= 0 ? '+' : ''}${(r.p99 - base.p99).toFixed(2)}`} | ${r.errors} |\n`;
    }
    const logs = [1, 2].map((i) => {
      try {
        return statSync(`${join(tmp, 'access.log')}.${i}`).size;
      } catch {
        return 0;
      }
    });
    md += `\nAccess logs written: ${(logs[0] / 1e6).toFixed(1)} MB and ${(logs[1] / 1e6).toFixed(1)} MB; OTLP sink received ${sink.seen.requests} export requests, ${(sink.seen.bytes / 1e3).toFixed(1)} KB.\n`;
    process.stdout.write(md);
    mkdirSync(join(HERE, 'results'), { recursive: true });
    writeFileSync(
      join(HERE, 'results', `telemetry-cost-${Date.now()}.json`),
      JSON.stringify(
        { rows, peers: peers.map((p) => ({ name: p.name, rounds: p.rounds })) },
        null,
        2,
      ),
    );
  } finally {
    for (const p of peers.reverse()) {
      await stop(p.proc);
      for (const e of p.extra ?? []) await stop(e);
    }
    await stop(backend);
    sink.server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`telemetry-cost: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
