#!/usr/bin/env node
// What mutual TLS costs sidecar-to-sidecar traffic: the two sidecars' CPU time per request and
// the latency, plaintext versus mTLS, on pooled keep-alive connections and with a new
// connection (a handshake, under mTLS) for every request, all in the same run.
//
//   npm run build && node bench/mtls-cost.mjs     # 6 rounds of 4 x 3 s, ~1.5 min
//   node bench/mtls-cost.mjs --rounds 10 --rate 1000 --new-rate 150
//
// Path measured: paced client -> `client` sidecar's outbound listener (Host: srv-...) -> the
// server sidecar's inbound listener -> backend (1 KB). One control plane; one client sidecar;
// one server sidecar per configuration, each its own service, so one YAML sets them all:
//   plain        PeerAuthentication DISABLE on the server: the client sends plaintext
//   mtls         mesh-wide STRICT: ISTIO_MUTUAL, as Weft's default between sidecars
//   plain-new    plain, and a DestinationRule with connectionPool.http.maxRequestsPerConnection 1:
//                the client sidecar opens a new connection for every request
//   mtls-new     mtls, the same: every request costs a full mTLS handshake (new-connection cost)
// Sidecars are pinned to core 1; the control plane, backend, paced clients and this script to
// core 0. The figure is the two sidecars' CPU time per request (all threads, from
// /proc/<pid>/task/*/schedstat) at one paced rate for both configurations of a pair (bench/telemetry-cost.mjs
// explains why not a closed loop on 2 cores); its inverse is the throughput one saturated core
// would give the pair. Each round runs one slice per configuration in a rotated order and takes
// the ratios within the round (mtls / plain, mtls-new / plain-new), so a machine that changes
// speed between rounds cancels out; medians of rounds are reported, with quartiles.
// Handshakes are counted on the server sidecars (weft_downstream_connections_total), which
// shows whether pooled connections are reused. Everything on 127.0.0.1, bounded in time; only
// processes started here are stopped.

import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSnapshot, foreignCores, median, threadCpuNs } from './lib/measure.mjs';
import { quartiles, roundOrder, startPacer, writeResults } from './lib/pacer.mjs';
import { installCleanup, pinSelf, sleep, start, stop, waitForReadyLine } from './lib/proc.mjs';
import { api, startControl, startSidecarProc } from './lib/weft.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD_CPU = 0;
const PROXY_CPU = 1;
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    slice: { type: 'string', default: '3' },
    rate: { type: 'string', default: '500' },
    'new-rate': { type: 'string', default: '100' },
  },
});
const ROUNDS = Number(opts.rounds);
const SLICE = Number(opts.slice);
const RATE = Number(opts.rate);
// A full mTLS handshake costs the two sidecars milliseconds of CPU (OpenSSL 3 in Node 20), so
// the new-connection pair runs slower, or one core could not keep up and queueing would be
// measured instead of handshakes.
const NEW_RATE = Number(opts['new-rate']);
const log = (m) => process.stderr.write(`${m}\n`);

const CONFIGS = [
  { name: 'plain', service: 'srv-plain', mtls: false },
  { name: 'mtls', service: 'srv-mtls', mtls: true },
  { name: 'plain-new', service: 'srv-plain-new', mtls: false, newConnections: true },
  { name: 'mtls-new', service: 'srv-mtls-new', mtls: true, newConnections: true },
];

function configYaml() {
  const docs = [
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }`,
  ];
  for (const c of CONFIGS) {
    if (!c.mtls)
      docs.push(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${c.service}-plaintext }
spec: { selector: { matchLabels: { app: ${c.service} } }, mtls: { mode: DISABLE } }`);
    if (c.newConnections)
      docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${c.service} }
spec:
  host: ${c.service}
  trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } } }`);
  }
  return docs.join('\n---\n');
}

/** The server sidecar's inbound connections so far, by security (its metrics endpoint). */
async function acceptedConnections(admin) {
  const text = await (
    await fetch(`http://${admin}/stats/prometheus`, { signal: AbortSignal.timeout(5000) })
  ).text();
  const read = (security) =>
    Number(
      new RegExp(
        `^weft_downstream_connections_total\\{listener="inbound",security="${security}"\\} (\\d+)`,
        'm',
      ).exec(text)?.[1] ?? NaN,
    );
  return { mutualTls: read('mutual_tls'), plaintext: read('none') };
}

/** One GET with this Host header (fetch cannot set Host): { status, body }. */
function get(port, host) {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: { host }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

/** Until the client sidecar routes `service` (config pushed, endpoints known), bounded. */
async function waitRoutable(outboundPort, service) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await get(outboundPort, service);
    if (res.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`client sidecar cannot reach ${service}: ${res.status} ${res.body}`);
    await sleep(200);
  }
}

async function main() {
  installCleanup();
  if (!pinSelf(LOAD_CPU)) log('warning: taskset not available: nothing is pinned');
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-mtls-cost-'));
  const procs = [];
  const pacers = [];
  try {
    const backend = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
      cpu: LOAD_CPU,
    });
    procs.push(backend);
    const b = await waitForReadyLine(backend);
    const control = await startControl({ tmp, cpu: LOAD_CPU });
    procs.push(control.proc);
    const applied = await api(control.url, '/v1/apply', {
      files: [{ path: 'mtls-cost.yaml', content: configYaml() }],
    });
    if (applied?.warnings?.length) log(`weft apply warnings: ${JSON.stringify(applied.warnings)}`);
    const sidecar = async (service) => {
      const s = await startSidecarProc({
        controlUrl: control.url,
        service,
        appPort: b.port,
        cpu: PROXY_CPU,
      });
      procs.push(s.proc);
      return s;
    };
    const client = await sidecar('client');
    const peers = [];
    for (const c of CONFIGS) peers.push({ ...c, server: await sidecar(c.service), rounds: [] });
    for (const p of peers) {
      await waitRoutable(client.outboundPort, p.service);
      p.rate = p.newConnections ? NEW_RATE : RATE;
      p.pacer = startPacer(`http://127.0.0.1:${client.outboundPort}/`, {
        rate: p.rate,
        cpu: LOAD_CPU,
        host: p.service,
      });
      pacers.push(p.pacer);
    }
    log(
      `client sidecar pid ${client.proc.pid}; servers ${peers.map((p) => `${p.name} ${p.server.proc.pid}`).join(', ')}`,
    );
    // Warm-up (JIT, pooled connections, certificates in use), not recorded.
    for (const p of peers) await p.pacer.run(p.rate * 2);
    const load0 = os.loadavg();
    for (let r = 0; r < ROUNDS; r++) {
      const order = roundOrder(peers, r);
      const round = new Map();
      for (const p of order) {
        const perSlice = Math.round(p.rate * SLICE);
        const pids = [client.proc.pid, p.server.proc.pid];
        const conn0 = await acceptedConnections(p.server.admin);
        const s0 = cpuSnapshot();
        const c0 = pids.map(threadCpuNs);
        const lat = await p.pacer.run(perSlice);
        const cpuNs = pids.reduce((a, pid, i) => a + threadCpuNs(pid) - c0[i], 0);
        const foreign = foreignCores(s0, cpuSnapshot());
        const conn1 = await acceptedConnections(p.server.admin);
        round.set(p, {
          usPerRequest: cpuNs / 1e3 / perSlice,
          foreign,
          p50: lat.p50,
          p99: lat.p99,
          errors: lat.bad + lat.errors,
          handshakesPerRequest: (conn1.mutualTls - conn0.mutualTls) / perSlice,
          plaintextPerRequest: (conn1.plaintext - conn0.plaintext) / perSlice,
        });
      }
      for (const [p, m] of round) {
        const base = round.get(
          peers.find((q) => !q.mtls && !!q.newConnections === !!p.newConnections),
        );
        m.ratio = m.usPerRequest / base.usPerRequest;
        m.p99Delta = m.p99 - base.p99;
        p.rounds.push(m);
      }
      log(
        `round ${r + 1}/${ROUNDS}: ${peers
          .map((p) => {
            const m = round.get(p);
            return `${p.name} ${m.usPerRequest.toFixed(0)} µs (x${m.ratio.toFixed(3)}), p99 ${m.p99.toFixed(2)} ms`;
          })
          .join(
            '; ',
          )}; others used ${median([...round.values()].map((m) => m.foreign)).toFixed(2)} cores`,
      );
    }
    const load1 = os.loadavg();
    const med = (p, k) => median(p.rounds.map((x) => x[k]));
    let md = `mTLS cost: ${ROUNDS} rounds x 4 slices of ${SLICE} s at ${RATE} requests/s (paced, open loop; the -new pair at ${NEW_RATE}/s), client + server sidecar CPU per request; node ${process.version}, ${os.cpus().length} vCPUs; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end; other processes used a median ${median(peers.flatMap((p) => p.rounds.map((m) => m.foreign))).toFixed(2)} cores during the slices\n\n`;
    md +=
      '| sidecar → sidecar | CPU µs per request (median) | × plaintext (median of rounds) | quartiles | requests per core-second | p50 ms | p99 ms | p99 − plaintext (median of rounds) | handshakes per request | errors |\n|---|---|---|---|---|---|---|---|---|---|\n';
    for (const p of peers) {
      const ratio = med(p, 'ratio');
      const [q1, q3] = quartiles(p.rounds.map((m) => m.ratio));
      const isBase = !p.mtls;
      const conns = p.mtls ? med(p, 'handshakesPerRequest') : med(p, 'plaintextPerRequest');
      md += `| ${p.name} | ${med(p, 'usPerRequest').toFixed(0)} | ${isBase ? '1' : ratio.toFixed(3)} | ${isBase ? '-' : `${q1.toFixed(3)}–${q3.toFixed(3)}`} | ${(1e6 / med(p, 'usPerRequest')).toFixed(0)} | ${med(p, 'p50').toFixed(2)} | ${med(p, 'p99').toFixed(2)} | ${isBase ? '-' : `${med(p, 'p99Delta') >= 0 ? '+' : ''}${med(p, 'p99Delta').toFixed(2)}`} | ${p.mtls ? conns.toFixed(3) : `(${conns.toFixed(3)} plaintext)`} | ${p.rounds.reduce((a, m) => a + m.errors, 0)} |\n`;
    }
    const by = (name) => peers.find((p) => p.name === name);
    // Same rate, same connection churn: the difference is the TLS handshake (encrypting the
    // bytes themselves is what mtls − plain shows, and it is small).
    const handshakeUs = med(by('mtls-new'), 'usPerRequest') - med(by('plain-new'), 'usPerRequest');
    md += `\nRequests per core-second = 1e6 / CPU µs per request: what one saturated core would give the sidecar pair at this rate. With a new connection per request it is also connections (handshakes) per core-second. A full mTLS handshake costs the pair about ${handshakeUs.toFixed(0)} µs of CPU more than a plaintext connect (mtls-new − plain-new). Handshakes per request near 0 on pooled connections: they are reused.\n`;
    process.stdout.write(md);
    writeResults('mtls-cost', {
      rate: RATE,
      newRate: NEW_RATE,
      slice: SLICE,
      load: [load0, load1],
      peers: peers.map((p) => ({ name: p.name, rounds: p.rounds })),
    });
  } finally {
    for (const p of pacers) {
      p.end();
      await stop(p.proc);
    }
    for (const p of procs.reverse()) await stop(p);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`mtls-cost: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
