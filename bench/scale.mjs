#!/usr/bin/env node
// Scale of the control plane: a registry of 1,000 services and 10,000 instances, 100 proxies on
// the snapshot stream, two replicas on one etcd. Not a test: it measures and prints, and the
// figures go into docs/performance.md.
//
//   npm run build && node bench/scale.mjs                  # the full run (about 2-4 minutes)
//   node bench/scale.mjs --services 100 --proxies 20       # a smaller one
//   node bench/scale.mjs --help
//
// Part 1, in this process (pure functions, no sockets): translate the whole registry, then
// re-translate after one instance changed with and without the incremental memo; the diff and
// the bytes of a delta against the bytes of the whole snapshot; a scoped view's size.
//
// Part 2, real processes on 127.0.0.1: an etcd (Debian etcd-server, started here on free ports)
// and two `weft control` replicas on it. 10,000 registrations go through the HTTP API (long
// TTLs: nothing heartbeats in a bench). 100 simulated proxies connect, half to each replica:
// each speaks the stream protocol (hello with its version and `deltas: true`, ACK every push,
// `resync` when a delta's base is not its version) but does not compile what it gets, so the
// figures are the control plane's and the wire's, not 100 route-table compiles in one process.
// Then:
// - registration -> every proxy: one new instance at a time (50 of them), the time from
//   sending the registration to each proxy receiving the version that holds it; p50/p99/max
//   over every (registration, proxy) pair;
// - work per change: the replicas' CPU time (/proc) and bytes pushed per proxy per change;
// - memory: each replica's resident set size (VmRSS) with the registry loaded and 50 proxies;
// - failover: SIGKILL the first replica; its proxies reconnect to the other; the time from the
//   kill to each one's stream being open there, and whether any needed a whole snapshot.
// Everything is bounded (a global deadline), the children are ended by PID at the end.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import {
  createTranslateMemo,
  InstanceGroups,
  openEtcdStore,
  scopeOf,
  scopeSnapshot,
  translate,
} from '@weft/control-plane';
import { diffSnapshots } from '@weft/model';
import { hasEtcd, startEtcd } from '@weft/testkit';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WEFT = join(ROOT, 'packages/cli/bin/weft.js');

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    'instances-per-service': { type: 'string', default: '10' },
    proxies: { type: 'string', default: '100' },
    changes: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '32' },
    'deadline-s': { type: 'string', default: '480' },
    /** `pure` (part 1 only) or `processes` (part 2 only); default both. */
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 30)
      .join('\n'),
  );
  process.exit(0);
}
const SERVICES = Number(args.services);
const PER = Number(args['instances-per-service']);
const PROXIES = Number(args.proxies);
const CHANGES = Number(args.changes);
const CONCURRENCY = Number(args.concurrency);
const deadline = setTimeout(
  () => {
    console.error(`scale: deadline of ${args['deadline-s']} s reached; stopping`);
    cleanup().finally(() => process.exit(2));
  },
  Number(args['deadline-s']) * 1000,
);

const children = new Set();
let etcd;
let dir;
async function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().finally(() => process.exit(130)));

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const median = (xs) => pct(xs, 50);
const ms = (x) => `${x.toFixed(1)} ms`;
const kb = (x) => `${(x / 1024).toFixed(1)} KiB`;
const mb = (x) => `${(x / 1024 / 1024).toFixed(0)} MiB`;
const out = [];
const report = (line) => {
  out.push(line);
  console.log(line);
};

// ---------------------------------------------------------------- part 1: pure functions
function instanceOf(s, n, healthy = true) {
  return {
    id: `svc-${s}-${n}`,
    service: `svc-${s}`,
    namespace: 'default',
    address: '10.0.0.1',
    port: 20000 + n,
    labels: { app: `svc-${s}`, version: n % 2 ? 'v1' : 'v2' },
    healthy,
    weight: 1,
    leaseId: 1,
    revision: s * PER + n,
  };
}

function part1() {
  const instances = [];
  for (let s = 0; s < SERVICES; s++) for (let n = 0; n < PER; n++) instances.push(instanceOf(s, n));
  const input = { version: 1, virtualServices: [], destinationRules: [], gateways: [], instances };
  const full = [];
  let snap;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    snap = translate(input);
    full.push(performance.now() - t);
  }
  const memo = createTranslateMemo();
  let prev = translate(input, memo);
  // As the control plane does: the grouping by service is kept between revisions.
  const kept = new InstanceGroups();
  for (const i of instances) kept.set(i.id, i);
  const keptMemo = createTranslateMemo();
  translate({ ...input, instanceGroups: kept.groups() }, keptMemo);
  const incrKept = [];
  const incr = [];
  const nonIncr = [];
  const diffs = [];
  const deltaBytes = [];
  for (let r = 0; r < 20; r++) {
    const s = (r * 37) % SERVICES;
    const idx = s * PER;
    instances[idx] = instanceOf(s, 0, r % 2 === 1);
    const next = { ...input, version: 2 + r, instances: [...instances] };
    let t = performance.now();
    kept.set(instances[idx].id, instances[idx]);
    translate({ ...next, instanceGroups: kept.groups() }, keptMemo);
    incrKept.push(performance.now() - t);
    t = performance.now();
    const snapIncr = translate(next, memo);
    incr.push(performance.now() - t);
    t = performance.now();
    translate(next);
    nonIncr.push(performance.now() - t);
    t = performance.now();
    const d = diffSnapshots(prev, snapIncr);
    const json = JSON.stringify({ type: 'delta', version: snapIncr.version, delta: d });
    diffs.push(performance.now() - t);
    deltaBytes.push(json.length);
    prev = snapIncr;
  }
  let t = performance.now();
  const fullJson = JSON.stringify({ type: 'snapshot', version: snap.version, snapshot: snap });
  const fullSer = performance.now() - t;
  const scoped = scopeSnapshot(prev, scopeOf(['svc-1', 'svc-2', 'svc-3'], 'default'));
  report(`## Part 1: translate and diff in one process (${SERVICES} services x ${PER} instances)`);
  report('');
  report(`| step | median | note |`);
  report(`| --- | --- | --- |`);
  report(`| full translate | ${ms(median(full))} | 5 runs |`);
  report(
    `| re-translate after one instance change, without memo | ${ms(median(nonIncr))} | 20 changes |`,
  );
  report(
    `| re-translate after one instance change, incremental, grouping the registry | ${ms(median(incr))} | reused ${memo.stats.reused}, rebuilt ${memo.stats.rebuilt} services |`,
  );
  report(
    `| re-translate after one instance change, incremental, groups kept (as the control plane) | ${ms(median(incrKept))} | reused ${keptMemo.stats.reused}, rebuilt ${keptMemo.stats.rebuilt} services |`,
  );
  report(`| diff + serialise the delta | ${ms(median(diffs))} | |`);
  report(`| serialise the whole snapshot | ${ms(fullSer)} | once per version for new proxies |`);
  report(`| whole snapshot on the wire | ${kb(fullJson.length)} | |`);
  report(`| delta for one instance change | ${kb(median(deltaBytes))} | median |`);
  report(
    `| scoped view, 3 upstreams | ${kb(JSON.stringify(scoped).length)} | vs ${kb(fullJson.length)} whole |`,
  );
  report('');
}

// ---------------------------------------------------------------- part 2: processes
function startControl(store, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        WEFT,
        'control',
        '--insecure',
        '--port',
        '0',
        '--store',
        store,
        '--data-dir',
        join(dir, name),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WEFT_LOG_LEVEL: 'warn' } },
    );
    children.add(child);
    let buf = '';
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.once('exit', (code) => reject(new Error(`weft control exited (${code}): ${err}`)));
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) resolve({ child, url: JSON.parse(line).url, pid: child.pid });
    });
  });
}

async function post(url, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function cpuMs(pid) {
  // utime + stime, in clock ticks (100 per second on Linux).
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** A proxy on the stream that ACKs what it is sent without compiling it. */
class SimProxy {
  constructor(id, urls) {
    this.id = id;
    this.urls = urls;
    this.at = 0;
    this.version = undefined;
    this.bytes = 0;
    this.full = 0;
    this.deltas = 0;
    this.waiters = [];
    this.onOpen = undefined;
    this.closed = false;
    this.connect();
  }
  connect() {
    if (this.closed) return;
    const url = this.urls[this.at % this.urls.length];
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`, { maxPayload: 1 << 30 });
    this.ws = ws;
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          node: { id: this.id, role: 'sidecar', namespace: 'default', labels: {} },
          ...(this.version !== undefined ? { version: this.version } : {}),
          deltas: true,
        }),
      );
      this.onOpen?.(url);
    });
    ws.on('message', (data) => {
      const text = data.toString();
      this.bytes += text.length;
      const head = text.slice(0, 120);
      const version = Number(/"version":(\d+)/.exec(head)?.[1]);
      if (head.startsWith('{"type":"delta"')) {
        const base = Number(/"baseVersion":(\d+)/.exec(text.slice(0, 200))?.[1]);
        if (base !== this.version) {
          ws.send(JSON.stringify({ type: 'resync', version: this.version }));
          return;
        }
        this.deltas++;
      } else this.full++;
      this.version = version;
      ws.send(JSON.stringify({ type: 'ack', version }));
      const now = performance.now();
      this.waiters = this.waiters.filter((w) => {
        if (version < w.version) return true;
        w.resolve(now);
        return false;
      });
    });
    ws.on('close', () => {
      if (this.closed) return;
      this.at++;
      setTimeout(() => this.connect(), 0);
    });
    ws.on('error', () => undefined);
  }
  /** Resolves with the time this proxy first holds `version` or later. */
  reach(version) {
    if (this.version !== undefined && this.version >= version)
      return Promise.resolve(performance.now());
    return new Promise((resolve) => this.waiters.push({ version, resolve }));
  }
  close() {
    this.closed = true;
    this.ws?.terminate();
  }
}

async function part2() {
  if (!hasEtcd()) {
    report('## Part 2 skipped: etcd is not installed (`node scripts/install-test-deps.mjs`)');
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'weft-scale-'));
  etcd = await startEtcd();
  const store = `etcd://${etcd.endpoints.join(',')}`;
  const a = await startControl(store, 'a');
  const b = await startControl(store, 'b');
  report(`## Part 2: two replicas on one etcd, ${SERVICES * PER} instances, ${PROXIES} proxies`);
  report('');

  // Populate. 10,000 registrations through the API would take minutes on this machine's etcd
  // (each is a lease grant and a put, and etcd fsyncs each: see the API rate below), so
  // the bulk is written straight into etcd as the registry writes it (one record per instance,
  // under one lease), 100 per txn; the replicas see them through their watches like any other
  // registration. A sample goes through the API to give its rate.
  const direct = await openEtcdStore({ endpoints: etcd.endpoints });
  const lease = await direct.grantLease(3600);
  const t0 = performance.now();
  const total = SERVICES * PER;
  const BATCH = 100;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const from = next;
        next += BATCH;
        if (from >= total) return;
        const ops = [];
        for (let i = from; i < Math.min(total, from + BATCH); i++) {
          const s = Math.floor(i / PER);
          const rec = {
            id: `svc-${s}-${i % PER}`,
            service: `svc-${s}`,
            namespace: 'default',
            address: '10.0.0.1',
            port: 20000 + (i % PER),
            labels: { version: i % 2 ? 'v1' : 'v2' },
            healthy: true,
            weight: 1,
          };
          ops.push({
            type: 'put',
            key: `/weft/instances/${rec.id}`,
            value: JSON.stringify(rec),
            lease: lease.id,
          });
        }
        await direct.txn(ops);
      }
    }),
  );
  const popS = (performance.now() - t0) / 1000;
  report(`- ${total} instance records written to etcd in ${popS.toFixed(1)} s (txns of ${BATCH})`);
  let apiNext = 0;
  const API_SAMPLE = 200;
  const ta = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (;;) {
        const i = apiNext++;
        if (i >= API_SAMPLE) return;
        await post(w % 2 ? a.url : b.url, '/v1/instances', {
          service: `svc-${i % SERVICES}`,
          id: `api-${i}`,
          address: '10.0.0.4',
          port: 20000,
          ttlSeconds: 3600,
        });
      }
    }),
  );
  const apiS = (performance.now() - ta) / 1000;
  report(
    `- ${API_SAMPLE} registrations through the API in ${apiS.toFixed(1)} s (${(API_SAMPLE / apiS).toFixed(0)}/s, ${CONCURRENCY} at a time)`,
  );
  await direct.close();

  // Proxies: half on each replica, each knowing both.
  const proxies = Array.from(
    { length: PROXIES },
    (_, i) => new SimProxy(`p-${i}`, i % 2 ? [b.url, a.url] : [a.url, b.url]),
  );
  const latestRev = async () => {
    const r = await fetch(`${a.url}/v1/replica`).then((x) => x.json());
    const r2 = await fetch(`${b.url}/v1/replica`).then((x) => x.json());
    return Math.max(r.version ?? 0, r2.version ?? 0);
  };
  const tc = performance.now();
  const rev0 = await latestRev();
  await Promise.all(proxies.map((p) => p.reach(rev0)));
  report(
    `- ${PROXIES} proxies connected and at the latest version in ${ms(performance.now() - tc)} (first push is the whole snapshot: ${kb(median(proxies.map((p) => p.bytes)))} each)`,
  );
  report(
    `- replica memory (VmRSS) with the registry and ${PROXIES / 2} proxies each: ${mb(rss(a.pid))}, ${mb(rss(b.pid))}`,
  );

  // Registration -> every proxy.
  const lat = [];
  const writes = [];
  const pushLat = [];
  const bytesBefore = proxies.reduce((n, p) => n + p.bytes, 0);
  const cpuBefore = cpuMs(a.pid) + cpuMs(b.pid);
  const fullBefore = proxies.reduce((n, p) => n + p.full, 0);
  for (let k = 0; k < CHANGES; k++) {
    const s = (k * 97) % SERVICES;
    const start = performance.now();
    const inst = await post(k % 2 ? a.url : b.url, '/v1/instances', {
      service: `svc-${s}`,
      id: `svc-${s}-new-${k}`,
      address: '10.0.0.2',
      port: 30000 + k,
      ttlSeconds: 3600,
    });
    const acked = performance.now();
    writes.push(acked - start);
    const arrivals = await Promise.all(proxies.map((p) => p.reach(inst.revision)));
    for (const t of arrivals) {
      lat.push(t - start);
      pushLat.push(t - acked);
    }
  }
  const cpuPer = (cpuMs(a.pid) + cpuMs(b.pid) - cpuBefore) / CHANGES;
  const bytesPer = (proxies.reduce((n, p) => n + p.bytes, 0) - bytesBefore) / CHANGES / PROXIES;
  const fullDuring = proxies.reduce((n, p) => n + p.full, 0) - fullBefore;
  report(
    `- registration -> every proxy (${CHANGES} registrations x ${PROXIES} proxies): p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(Math.max(...lat))}`,
  );
  report(
    `  - of which the registration itself (API call: lease, then a put returning the replaced record): p50 ${ms(pct(writes, 50))}, p99 ${ms(pct(writes, 99))}; from its answer to each proxy: p50 ${ms(pct(pushLat, 50))}, p99 ${ms(pct(pushLat, 99))}`,
  );
  report(
    `- per change: both replicas' CPU ${ms(cpuPer)} together; ${bytesPer.toFixed(0)} bytes pushed per proxy; whole snapshots sent meanwhile: ${fullDuring}`,
  );
  report(`- replica memory after the changes: ${mb(rss(a.pid))}, ${mb(rss(b.pid))}`);

  // Failover.
  const onA = proxies.filter((p) => p.urls[p.at % 2] === a.url);
  const fullBeforeKill = proxies.reduce((n, p) => n + p.full, 0);
  const opened = onA.map(
    (p) =>
      new Promise((resolve) => {
        p.onOpen = (url) => {
          if (url === b.url) resolve(performance.now());
        };
      }),
  );
  const killedAt = performance.now();
  a.child.kill('SIGKILL');
  const times = (await Promise.all(opened)).map((t) => t - killedAt);
  // After the move, one more registration reaches everyone.
  const after = await post(b.url, '/v1/instances', {
    service: 'svc-0',
    id: 'svc-0-after-kill',
    address: '10.0.0.3',
    port: 31000,
    ttlSeconds: 3600,
  });
  const t1 = performance.now();
  await Promise.all(proxies.map((p) => p.reach(after.revision)));
  const fullAfter = proxies.reduce((n, p) => n + p.full, 0) - fullBeforeKill;
  report(
    `- failover: SIGKILL one replica; its ${onA.length} proxies reopened their stream on the other in p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(Math.max(...times))}; whole snapshots needed: ${fullAfter}; the next registration reached all ${PROXIES} in ${ms(performance.now() - t1)}`,
  );
  for (const p of proxies) p.close();
}

try {
  if (args.only !== 'processes') part1();
  if (args.only !== 'pure') await part2();
  report('');
  report(
    `machine: ${os.cpus().length} cores, load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')} (1 / 5 / 15 min)`,
  );
  report(
    `command: node bench/scale.mjs --services ${SERVICES} --instances-per-service ${PER} --proxies ${PROXIES} --changes ${CHANGES}`,
  );
} finally {
  clearTimeout(deadline);
  await cleanup();
}
