#!/usr/bin/env node
// Load balancers compared with one slow instance: ROUND_ROBIN, LEAST_REQUEST and Weft's
// default PEAK_EWMA, through a real Weft data plane, as a client sees them.
//
//   npm run bench:lb                                 # build, then the default run
//   node bench/lb-compare.mjs --quick                # smoke run: 1 round, short phases
//   node bench/lb-compare.mjs --rounds 5 --concurrency 4,16 --duration 8
//   node bench/lb-compare.mjs --help
//
// What it does, and why this way:
// - Three upstream instances (node:http, a process each) on 127.0.0.1 answer a small body after
//   a fixed added latency: 2 ms, 2 ms and 8 ms ("one slow": four times slower), or 2 ms each
//   ("all equal", where a smarter balancer can only cost, never win). A third scenario gives
//   the same latencies as service times of instances that work on at most 4 requests at once
//   and queue the rest (a slow replica that is also short of capacity, as a CPU-starved one is).
// - A Weft gateway data plane (createDataPlane + listen from the built @weft/proxy) runs in a
//   second process, pinned to its own core when there are two, fed a hand-built snapshot with
//   the policy under test. Each run starts a fresh data plane: no latency estimate or
//   in-flight count carries over from the previous policy.
// - The client is closed-loop: a fixed number of connections each send a request as soon as
//   the previous answer ends, for a fixed time after a warm-up that is not recorded (2, 4 and
//   16 connections by default: fewer than, about as many as, and many more than the fast
//   instances can take at once). Latency is the client's (send to last byte), so it includes
//   the proxy and the upstream's delay.
// - Several rounds, the policies in a rotated order each round; the table shows medians over
//   rounds. The machine may be shared: before each run the script waits (up to 20 s) until
//   other processes use less than a quarter of a core, measures what they use during the run
//   (/proc/stat minus this run's processes), and runs it again (once) if that was more than
//   half a core. The table says how busy the others were.
// - Everything is on loopback, every phase has a fixed length, the children are ended by PID
//   at the end (also on error or Ctrl-C), and the run stops by itself.
// - LB_BENCH_DEBUG=1 prints each endpoint's latency estimate (and its usual requests in flight) at the end of each run.

import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Agent, request } from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ALL_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'PEAK_EWMA'];
const BODY = Buffer.alloc(128, 'x');

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string' },
    index: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1.5' },
    concurrency: { type: 'string', default: '2,4,16' },
    'fast-ms': { type: 'string', default: '2' },
    'slow-ms': { type: 'string', default: '8' },
    workers: { type: 'string', default: '4' },
    scenarios: { type: 'string', default: 'slow,workers,equal' },
    policies: { type: 'string', default: ALL_POLICIES.join(',') },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

// ---------------------------------------------------------------- children

/**
 * One instance (its own process, so that one instance's pauses are not the others'). A message
 * sets its latency (ms) and how many requests it works on at once (`workers`; 0 = no limit:
 * the latency is simply added to every answer). With a limit, requests beyond it wait in a
 * FIFO queue, as on a server with that many threads.
 */
function runUpstream(index) {
  let delay = 2;
  let workers = 0;
  let busy = 0;
  const queue = [];
  const serve = (res) => {
    busy++;
    setTimeout(() => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': BODY.length,
        'x-instance': String(index),
      });
      res.end(BODY);
      busy--;
      const queued = queue.shift();
      if (queued !== undefined) serve(queued);
    }, delay);
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (workers > 0 && busy >= workers) queue.push(res);
      else serve(res);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
  process.on('message', (m) => {
    if (m.type === 'delays') {
      delay = m.delays[index];
      workers = m.workers;
      process.send({ type: 'ok' });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** A Weft gateway data plane; `start` builds a fresh one for a snapshot, `stop` closes it. */
async function runProxy() {
  const { createDataPlane, listen } = await import('../packages/proxy/dist/index.js');
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const loopDelay = process.env.LB_BENCH_DEBUG
    ? monitorEventLoopDelay({ resolution: 5 })
    : undefined;
  loopDelay?.enable();
  let current;
  let eluAtStart;
  process.on('message', async (m) => {
    if (m.type === 'start') {
      const dp = createDataPlane({
        node: {
          id: 'bench-gateway',
          role: 'gateway',
          namespace: 'istio-system',
          labels: { istio: 'ingressgateway' },
        },
      });
      dp.apply(m.snapshot);
      loopDelay?.reset();
      eluAtStart = performance.eventLoopUtilization();
      const listener = await listen(dp.gatewayHandler(), {
        proxyId: 'bench-gateway',
        closeGraceMs: 200,
      });
      current = { dp, listener };
      process.send({
        type: 'started',
        port: listener.port,
        algorithm: dp.table().clusters.get('c').algorithm,
      });
    } else if (m.type === 'stop') {
      if (current && process.env.LB_BENCH_DEBUG) {
        const eps = current.dp.table().clusters.get('c').endpoints;
        log(
          `  estimates: ${eps.map((e) => `${e.id} ${e.load.latencyMs.toFixed(2)} ms at ${e.load.inflightMean.toFixed(1)} in flight`).join(', ')}; event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms, utilization ${(performance.eventLoopUtilization(eluAtStart).utilization * 100).toFixed(0)}%`,
        );
      }
      if (current) {
        await current.listener.close();
        await current.dp.close();
        current = undefined;
      }
      process.send({ type: 'stopped' });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready' });
}

// ---------------------------------------------------------------- orchestration

const children = [];

function spawnChild(role, cpu, args = []) {
  const child = fork(fileURLToPath(import.meta.url), ['--role', role, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  if (cpu !== undefined) pin(child.pid, cpu);
  return child;
}

function pin(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function stopChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}

function next(child, type, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${type} from child ${child.pid}`)), timeoutMs);
    const on = (m) => {
      if (m.type !== type) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

function snapshotFor(policy, ports) {
  const vh = {
    name: 'bench/app',
    domains: ['*'],
    routes: [
      {
        id: 'bench',
        matches: [],
        // No retries: a retry would hide what the balancer did.
        action: {
          type: 'route',
          destinations: [{ cluster: 'c', weight: 1, host: 'app' }],
          retries: { attempts: 0, retryOn: [], retriableStatusCodes: [] },
        },
      },
    ],
  };
  return {
    version: 1,
    clusters: [
      {
        name: 'c',
        service: 'app.default.svc.cluster.local',
        lb: policy,
        endpoints: ports.map((port, i) => ({
          id: `instance-${i}`,
          address: '127.0.0.1',
          port,
          labels: {},
          healthy: true,
          weight: 1,
        })),
      },
    ],
    mesh: { virtualHosts: [] },
    gateways: [
      {
        name: 'istio-system/bench',
        selector: { istio: 'ingressgateway' },
        servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['*'] }],
        virtualHosts: [vh],
      },
    ],
  };
}

/** Closed loop: `concurrency` connections, each sending its next request when the last ends. */
async function load(port, concurrency, warmupMs, durationMs) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  const perInstance = [0, 0, 0];
  let errors = 0;
  const t0 = performance.now();
  const recordFrom = t0 + warmupMs;
  const end = recordFrom + durationMs;
  const one = () =>
    new Promise((resolve) => {
      const start = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path: '/', agent, headers: { host: 'app' } },
        (res) => {
          const inst = Number(res.headers['x-instance']);
          res.resume();
          res.on('end', () => {
            const now = performance.now();
            if (start >= recordFrom && now <= end) {
              if (res.statusCode === 200) {
                latencies.push(now - start);
                if (inst >= 0) perInstance[inst]++;
              } else errors++;
            }
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const total = latencies.length;
  return {
    requests: total,
    rps: total / (durationMs / 1000),
    p50: pct(50),
    p99: pct(99),
    errors,
    slowShare: total > 0 ? perInstance[2] / total : NaN,
  };
}

const TICKS = 100; // USER_HZ on Linux

function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime are fields 14-17 (1-based), 12-15 after the name.
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** Busy CPU ticks of the whole machine and of this run's processes. */
function cpuSnapshot() {
  try {
    const v = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, , , irq, softirq, steal = 0] = v;
    const ours = [process.pid, ...children.map((c) => c.pid)].reduce(
      (a, pid) => a + cpuTicks(pid),
      0,
    );
    return { t: performance.now(), total: user + nice + system + irq + softirq + steal, ours };
  } catch {
    return undefined; // not Linux: no accounting
  }
}

/** Cores' worth of CPU used by other processes between two snapshots. */
function foreignCores(a, b) {
  if (!a || !b) return 0;
  const secs = (b.t - a.t) / 1000;
  return secs > 0 ? Math.max(0, (b.total - a.total - (b.ours - a.ours)) / TICKS / secs) : 0;
}

async function waitQuiet(threshold, maxMs) {
  const start = performance.now();
  for (;;) {
    const a = cpuSnapshot();
    await new Promise((r) => setTimeout(r, 500));
    const f = foreignCores(a, cpuSnapshot());
    if (f < threshold || performance.now() - start > maxMs) return f;
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

async function main() {
  const quick = opts.quick;
  const rounds = quick ? 1 : Number(opts.rounds);
  const durationMs = (quick ? 2 : Number(opts.duration)) * 1000;
  const warmupMs = (quick ? 0.5 : Number(opts.warmup)) * 1000;
  const concurrencies = opts.concurrency.split(',').map(Number);
  const fast = Number(opts['fast-ms']);
  const slow = Number(opts['slow-ms']);
  const workers = Number(opts.workers);
  const POLICIES = opts.policies.split(',');
  for (const p of POLICIES) {
    if (!ALL_POLICIES.includes(p)) throw new Error(`--policies takes ${ALL_POLICIES.join(', ')}`);
  }
  const ALL_SCENARIOS = {
    slow: ['one slow', { delays: [fast, fast, slow], workers: 0 }],
    workers: [`one slow, ${workers} workers each`, { delays: [fast, fast, slow], workers }],
    equal: ['all equal', { delays: [fast, fast, fast], workers: 0 }],
  };
  const SCENARIOS = Object.fromEntries(
    opts.scenarios.split(',').map((k) => {
      const s = ALL_SCENARIOS[k];
      if (s === undefined) throw new Error(`--scenarios takes slow, workers, equal; got ${k}`);
      return s;
    }),
  );
  if (
    ![rounds, durationMs, warmupMs, fast, slow, workers, ...concurrencies].every(
      (n) => Number.isFinite(n) && n >= 0,
    )
  ) {
    throw new Error('--rounds, --duration, --warmup and --concurrency take numbers');
  }
  const cpus = os.cpus().length;
  // Proxy on the last core, everything else on core 0, when there is more than one.
  const proxyCpu = cpus > 1 ? cpus - 1 : undefined;
  if (proxyCpu !== undefined) pin(process.pid, 0);
  const quietWaitMs = quick ? 2_000 : 20_000;
  const hardStop = setTimeout(
    () => {
      log('lb-compare: time budget exceeded, stopping');
      stopChildren();
      process.exit(2);
    },
    // The worst case: every run waits the longest for quiet and is run twice.
    rounds *
      Object.keys(SCENARIOS).length *
      concurrencies.length *
      POLICIES.length *
      2 *
      (quietWaitMs + warmupMs + durationMs + 3000) +
      60_000,
  );
  hardStop.unref();
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.on(sig, () => (stopChildren(), process.exit(130)));

  const upstreams = [0, 1, 2].map((i) =>
    spawnChild('upstream', proxyCpu === undefined ? undefined : 0, ['--index', String(i)]),
  );
  const proxy = spawnChild('proxy', proxyCpu);
  const ports = (await Promise.all(upstreams.map((u) => next(u, 'ready')))).map((m) => m.port);
  await next(proxy, 'ready');
  log(
    `lb-compare: ${cpus} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; proxy on core ${proxyCpu ?? 'shared'}; ${rounds} round(s) of ${durationMs / 1000} s (+${warmupMs / 1000} s warm-up) per run`,
  );

  const results = [];
  try {
    for (const [scenario, { delays, workers: limit }] of Object.entries(SCENARIOS)) {
      for (const u of upstreams) u.send({ type: 'delays', delays, workers: limit });
      await Promise.all(upstreams.map((u) => next(u, 'ok')));
      for (const concurrency of concurrencies) {
        const runs = Object.fromEntries(POLICIES.map((p) => [p, []]));
        for (let round = 0; round < rounds; round++) {
          const order = POLICIES.map((_, i) => POLICIES[(i + round) % POLICIES.length]);
          for (const policy of order) {
            let r;
            let algorithm;
            for (let attempt = 0; attempt < 2; attempt++) {
              await waitQuiet(0.25, quietWaitMs);
              proxy.send({ type: 'start', snapshot: snapshotFor(policy, ports) });
              const started = await next(proxy, 'started');
              algorithm = started.algorithm;
              const before = cpuSnapshot();
              r = await load(started.port, concurrency, warmupMs, durationMs);
              r.foreign = foreignCores(before, cpuSnapshot());
              proxy.send({ type: 'stop' });
              await next(proxy, 'stopped');
              if (r.foreign <= 0.5) break;
              log(`  (others used ${r.foreign.toFixed(2)} cores during the run; running it again)`);
            }
            runs[policy].push(r);
            log(
              `  ${scenario}, c=${concurrency}, round ${round + 1}: ${policy} (${algorithm}) ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, slow share ${(r.slowShare * 100).toFixed(1)}%, others ${r.foreign.toFixed(2)} cores${r.errors ? `, ${r.errors} errors` : ''}`,
            );
          }
        }
        for (const policy of POLICIES) {
          const rs = runs[policy];
          results.push({
            scenario,
            delays,
            workers: limit,
            concurrency,
            policy,
            rounds: rs,
            rps: median(rs.map((r) => r.rps)),
            p50: median(rs.map((r) => r.p50)),
            p99: median(rs.map((r) => r.p99)),
            slowShare: median(rs.map((r) => r.slowShare)),
            foreign: median(rs.map((r) => r.foreign)),
            errors: rs.reduce((a, r) => a + r.errors, 0),
          });
        }
      }
    }
  } finally {
    stopChildren();
    clearTimeout(hardStop);
  }

  const table = render(results);
  console.log(table);
  const dir = `${HERE}results`;
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(
    `${dir}/lb-compare-${stamp}.json`,
    JSON.stringify(
      {
        machine: { cpus, model: os.cpus()[0]?.model, node: process.version },
        rounds,
        durationMs,
        warmupMs,
        results,
      },
      null,
      2,
    ),
  );
  writeFileSync(`${dir}/lb-compare-${stamp}.md`, `${table}\n`);
  log(`lb-compare: results in bench/results/lb-compare-${stamp}.{md,json}`);
}

function render(results) {
  const lines = [
    "| instances (added latency) | clients | policy | req/s | p50 ms | p99 ms | to the slow one | p99 vs ROUND_ROBIN | others' CPU |",
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const rr = results.find(
      (x) =>
        x.scenario === r.scenario && x.concurrency === r.concurrency && x.policy === 'ROUND_ROBIN',
    );
    const ratio =
      r.policy === 'ROUND_ROBIN' || rr === undefined ? '-' : `${(rr.p99 / r.p99).toFixed(2)}x`;
    const slow = r.scenario.startsWith('one slow') ? `${(r.slowShare * 100).toFixed(1)}%` : '-';
    const policy = r.policy === 'PEAK_EWMA' ? 'PEAK_EWMA (default)' : r.policy;
    lines.push(
      `| ${r.scenario} (${r.delays.join('/')} ms) | ${r.concurrency} | ${policy} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${slow} | ${ratio} | ${r.foreign.toFixed(2)} cores |`,
    );
  }
  return lines.join('\n');
}

if (opts.role === 'upstream') runUpstream(Number(opts.index));
else if (opts.role === 'proxy') runProxy();
else if (opts.help) {
  console.log(
    'usage: node bench/lb-compare.mjs [--rounds N] [--duration S] [--warmup S] [--concurrency 2,4,16]\n' +
      '                                 [--fast-ms 2] [--slow-ms 8] [--workers 4] [--quick]\n' +
      '                                 [--scenarios slow,workers,equal]\n' +
      '                                 [--policies ROUND_ROBIN,LEAST_REQUEST,PEAK_EWMA]',
  );
} else {
  main().catch((err) => {
    console.error(err);
    stopChildren();
    process.exit(1);
  });
}
