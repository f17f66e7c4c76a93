#!/usr/bin/env node
// What one span export costs the proxy's process: --requests sampled gateway requests (two spans
// each) are built and queued, then exported through the real OTLP/HTTP exporter to a local sink,
// with --pause ms between exports (1000: the old interval, cold code each time; 0: back to back).
// Prints the process's CPU (all threads) and wall time per export.
//
//   npm run build && node bench/span-export-cost.mjs [--requests 35] [--pause 1000] [--exports 12]

import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SpanExport } from '../packages/proxy/dist/telemetry/tracing/export.js';
import { Tracer } from '../packages/proxy/dist/telemetry/tracing/tracer.js';
import { endInfo, tracerNode } from './lib/tracing-fixture.mjs';

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '35' },
    pause: { type: 'string', default: '1000' },
    exports: { type: 'string', default: '12' },
  },
});
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const exporter = new SpanExport({
  endpoint: `http://127.0.0.1:${sink.address().port}/v1/traces`,
  flushIntervalMs: 1e9,
});
const tracer = new Tracer({ node: tracerNode, samplingPercent: 100, sink: exporter });
const rows = [];
for (let i = 0; i < Number(opts.exports); i++) {
  for (let j = 0; j < Number(opts.requests); j++)
    tracer.end(tracer.begin('gateway', undefined, []), endInfo);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await exporter.flush();
  const c = process.cpuUsage(c0);
  rows.push(`${((c.user + c.system) / 1000).toFixed(1)}/${(performance.now() - t0).toFixed(1)}`);
  await new Promise((r) => setTimeout(r, Number(opts.pause)));
}
process.stdout.write(
  `${2 * Number(opts.requests)} spans per export, ${opts.pause} ms apart; CPU ms / wall ms per export (the first loads the exporter):\n${rows.join(' ')}\n`,
);
await exporter.close();
sink.close();
