#!/usr/bin/env node
// Weft gateway overhead, measured against its peers in the same run.
//
//   npm run bench                                   # build, then the default run (3 rounds)
//   node bench/gateway-overhead.mjs --quick         # smoke run: 1 round, short phases
//   node bench/gateway-overhead.mjs --rounds 5 --only weft,nginx,node-passthrough
//   node bench/gateway-overhead.mjs --help
//
// What it does, and why this way:
// - Everything listens on 127.0.0.1. Every phase has a fixed duration and every child a
//   timeout; the run stops by itself and ends only the processes it started, by PID (also on
//   Ctrl-C or an error: lib/proc.mjs).
// - Each proxy under test runs pinned to its own core (`taskset -c 1`); the load generator,
//   the backend, the Weft control plane and this script share core 0. The proxy's CPU time is
//   read from /proc/<pid>/stat before and after the saturating load, so
//   "requests/s per core" = requests / proxy CPU-seconds does not depend on whether core 0 kept up.
//   (It still reads best when the proxy core is ~100% busy, shown as "proxy core busy".)
// - The backend is nginx answering a 1 KB body from memory when nginx is installed: it is the
//   cheapest backend there is, which leaves the most of core 0 for the load generator and so
//   keeps the proxy, not core 0, the bottleneck. Without nginx, a node:http backend process.
// - Saturation: wrk -t1 -c50 (C, cheap per request), autocannon only when wrk is missing.
// - Latency: an open-loop client at a paced 1,000 requests/s (lib/paced-client.mjs; wrk2 is not
//   in Debian), far below saturation, so the numbers are the proxy's own added time, not queueing.
//   "added" is the peer's percentile minus direct's in the same round.
// - Several rounds, peers in a rotated order each round (so drift on the machine is spread over
//   all peers), medians reported.
// - The machine may be shared (other people's builds and tests) and is a VM whose host can slow
//   a core invisibly. So before each measurement the run waits (bounded) for other processes to
//   go quiet; it counts the CPU others used during each phase (/proc/stat minus our processes);
//   a core-speed probe on each core (lib/core-probe.mjs) tells when the host slowed a core; and
//   a disturbed measurement is redone (up to --retries), keeping the least disturbed attempt.
//   Whatever disturbance remains is shown in the table and notes, never hidden.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BODY } from './lib/body.mjs';
import { paced, saturate, saturationTool } from './lib/load.mjs';
import {
  cpuSeconds,
  cpuSnapshot,
  foreignCores,
  median,
  nowMs,
  sampleRss,
  startCoreProbes,
  waitQuiet,
} from './lib/measure.mjs';
import {
  hasHaproxy,
  hasNginx,
  startHaproxy,
  startNginxBackend,
  startNginxProxy,
} from './lib/native.mjs';
import {
  installCleanup,
  killAllSync,
  pinSelf,
  sleep,
  start,
  stop,
  tail,
  waitForReadyLine,
} from './lib/proc.mjs';
import { startWeft } from './lib/weft.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LOAD_CPU = 0;
const PROXY_CPU = 1;
const ALL_PEERS = [
  'direct',
  'weft',
  'node-passthrough',
  'http-proxy',
  'fastify-http-proxy',
  'nginx',
  'haproxy',
];

/** --render <file.json>: the Markdown of an earlier run, from its JSON (no measuring). */
function renderSaved(file) {
  const rep = JSON.parse(readFileSync(file, 'utf8'));
  rep.summary = summarize(rep.peers);
  process.stdout.write(renderMarkdown(rep));
}

async function main() {
  const machine = describeMachine();
  log(`weft gateway overhead: ${machine.cpus} cores, ${machine.cpuModel}, node ${process.version}`);
  if (machine.cpus < 2)
    log(
      'warning: fewer than 2 cores: proxy and load share a core; per-core numbers still hold, latency does not',
    );
  if (!pinSelf(LOAD_CPU)) log('warning: taskset not available: nothing is pinned');

  const tool = saturationTool(opts.load);
  if (tool !== 'wrk')
    log(
      'note: wrk not found, saturating with autocannon (may itself be the bottleneck: see "proxy core busy")',
    );
  const tmp = mkdtempSync(join(os.tmpdir(), 'weft-bench-'));
  const peers = [];
  const skipped = [];
  let backend;
  let probes;
  try {
    mkdirSync(join(HERE, 'results'), { recursive: true });
    probes = startCoreProbes([LOAD_CPU, PROXY_CPU], {
      rememberIn: join(HERE, 'results', 'core-probe-best.json'),
    });
    backend = await startBackend(tmp);
    log(`backend: ${backend.kind} on 127.0.0.1:${backend.port} (core ${LOAD_CPU})`);
    const upstream = `http://127.0.0.1:${backend.port}/`;
    await check('backend', backend.port);

    for (const name of ALL_PEERS.filter((p) => opts.only.has(p))) {
      try {
        const peer = await startPeer(name, { tmp, backendPort: backend.port, upstream });
        if (!peer) continue;
        await check(name, peer.port, name === 'weft' ? 10_000 : 2_000);
        peers.push({ name, ...peer, rounds: [] });
        log(
          `${name}: ready on 127.0.0.1:${peer.port}${peer.proc ? ` (pid ${peer.proc.pid}, core ${PROXY_CPU})` : ''}`,
        );
      } catch (err) {
        skipped.push({ name, reason: err.message });
        log(`${name}: SKIPPED: ${err.message}`);
      }
    }

    // Calibrate the core-speed probes over a few idle seconds (the best window later lowers it).
    const c0 = nowMs();
    await sleep(3000);
    const cal = {
      load: probes.unitMicros(LOAD_CPU, c0 + 500, nowMs()),
      proxy: probes.unitMicros(PROXY_CPU, c0 + 500, nowMs()),
    };
    log(
      `core-speed probe: ${cal.load?.toFixed(0)} µs per unit on core ${LOAD_CPU}, ${cal.proxy?.toFixed(0)} µs on core ${PROXY_CPU} (idle)`,
    );

    budget.planned = peers.length * opts.rounds;
    for (let r = 0; r < opts.rounds; r++) {
      // Rotate the order so that no peer always runs first (cold machine) or last.
      const order = peers.map((_, i) => peers[(i + r) % peers.length]);
      log(`round ${r + 1}/${opts.rounds}: ${order.map((p) => p.name).join(', ')}`);
      for (const peer of order) {
        if (peer.dead) continue;
        try {
          const m = await measureSettled(peer, tool, probes);
          peer.rounds.push(m);
          log(
            `  ${peer.name.padEnd(19)} ${fmtK(m.rpsPerCore).padStart(7)} req/s/core  busy ${fmtPct(m.busy)}  speed ${fmtSpeed(m.speed.proxySat)}/${fmtSpeed(m.speed.loadSat)} (${m.probe.proxySat?.toFixed(0)}/${m.probe.loadSat?.toFixed(0)} µs)  ` +
              `p50 ${fmtMs(m.latency.p50)}  p99 ${fmtMs(m.latency.p99)} ms  rss ${fmtMB(m.rssBytes)} MB` +
              (m.problems.length ? `  !! ${m.problems.join('; ')}` : ''),
          );
        } catch (err) {
          peer.rounds.push({ error: err.message });
          log(`  ${peer.name}: round failed: ${err.message}`);
          if (peer.proc?.exited) {
            peer.dead = `exited ${JSON.stringify(peer.proc.exited)}${tail(peer.proc)}`;
            log(`  ${peer.name}: process gone, no more rounds for it`);
          }
        }
      }
    }
  } finally {
    for (const p of peers) await stopPeer(p);
    if (backend) await stop(backend.proc);
    for (const p of probes?.procs ?? []) await stop(p);
    rmSync(tmp, { recursive: true, force: true });
  }

  // Speeds against the best window of the whole run (and of earlier runs), now that it is known.
  for (const p of peers) for (const r of p.rounds) if (r.probe) r.speed = speeds(r.probe, probes);
  probes?.remember();
  const summary = summarize(peers);
  const report = {
    when: new Date().toISOString(),
    command: `node bench/gateway-overhead.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    git: gitState(),
    coreProbeBestMicros: probes?.best(),
    settings: {
      ...opts,
      only: [...opts.only],
      load: tool,
      backend: backend?.kind,
      loadCpu: LOAD_CPU,
      proxyCpu: PROXY_CPU,
    },
    skipped,
    summary,
    peers: peers.map(({ name, rounds, dead }) => ({ name, dead, rounds })),
  };
  const md = renderMarkdown(report);
  process.stdout.write('\n' + md);
  const dir = join(HERE, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = report.when.replace(/[:.]/g, '-');
  for (const base of [`gateway-overhead-${stamp}`, 'gateway-overhead-latest']) {
    writeFileSync(join(dir, `${base}.md`), md);
    writeFileSync(join(dir, `${base}.json`), JSON.stringify(report, null, 2) + '\n');
  }
  log(`\nwrote bench/results/gateway-overhead-${stamp}.{md,json} (and -latest)`);
}

// --- peers -------------------------------------------------------------------------------

async function startBackend(tmp) {
  const kind = opts.backend ?? (hasNginx() ? 'nginx' : 'node');
  if (kind === 'nginx') {
    if (!hasNginx())
      throw new Error('--backend nginx: nginx is not installed (apt-get install nginx-light)');
    const b = await startNginxBackend({ tmp, cpu: LOAD_CPU });
    return { kind, ...b };
  }
  const proc = start('backend', process.execPath, [join(HERE, 'peers/backend.mjs')], {
    cpu: LOAD_CPU,
  });
  const ready = await waitForReadyLine(proc);
  return { kind: 'node', proc, port: ready.port };
}

async function startPeer(name, { tmp, backendPort, upstream }) {
  switch (name) {
    case 'direct':
      // No proxy: the load goes straight to the backend; the reference for "added" latency.
      return { port: backendPort, proc: null };
    case 'weft':
      return startWeft({
        tmp,
        backendPort,
        proxyCpu: PROXY_CPU,
        loadCpu: LOAD_CPU,
        proxyNodeArgs: profileArgs(name),
      });
    case 'node-passthrough':
    case 'http-proxy':
    case 'fastify-http-proxy': {
      const proc = start(
        name,
        process.execPath,
        [...profileArgs(name), join(HERE, `peers/${name}.mjs`), upstream],
        { cpu: PROXY_CPU },
      );
      try {
        const ready = await waitForReadyLine(proc);
        return { port: ready.port, proc };
      } catch (err) {
        await stop(proc);
        throw err;
      }
    }
    case 'nginx':
      if (!hasNginx()) return skip(name, 'nginx is not installed (apt-get install nginx-light)');
      return startNginxProxy({ tmp, cpu: PROXY_CPU, upstreamPort: backendPort });
    case 'haproxy':
      if (!hasHaproxy()) return skip(name, 'haproxy is not installed (apt-get install haproxy)');
      return startHaproxy({ tmp, cpu: PROXY_CPU, upstreamPort: backendPort });
  }
  throw new Error(`unknown peer ${name}`);
}

/**
 * --profile a,b: V8 CPU profile of those Node peers, written when it exits (we stop it with
 * SIGTERM, which Weft's CLI handles; the library peers get a handler in their scripts).
 * Profiling costs CPU, so the figures of a profiled peer are not comparable: use it to look.
 */
function profileArgs(name) {
  if (!opts.profile.has(name)) return [];
  const dir = join(HERE, 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  log(`${name}: CPU profile to bench/results/profiles/ (its figures are slowed by the profiler)`);
  // Node 20 refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
  ];
}

function skip(name, reason) {
  log(`${name}: skipped: ${reason}`);
  return null;
}

async function stopPeer(p) {
  if (p.proc) await stop(p.proc);
  for (const e of p.extra ?? []) await stop(e);
}

/** One GET through the peer must give 200 and exactly the backend's body before we measure. */
async function check(name, port, retryMs = 0) {
  const until = Date.now() + retryMs;
  for (;;) {
    let why;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      if (res.status === 200 && text === BODY) return;
      why = `GET / answered ${res.status} with ${text.length} bytes${text === BODY ? '' : ` (not the backend's body: ${JSON.stringify(text.slice(0, 200))})`}`;
    } catch (err) {
      why = `GET / failed: ${err.cause?.message ?? err.message}`;
    }
    if (Date.now() >= until) throw new Error(`${name}: ${why}`);
    await sleep(250);
  }
}

// --- one measurement ---------------------------------------------------------------------

async function measure(peer, tool, probes) {
  const url = `http://127.0.0.1:${peer.port}/`;
  const problems = [];
  let quiet = null;
  const maxWait = Math.min(opts.quietWait, budget.spareSeconds());
  if (maxWait >= 1) {
    quiet = await waitQuiet({ threshold: opts.quietThreshold, maxSeconds: maxWait });
    if (!quiet.quiet)
      log(
        `  (machine not quiet after ${quiet.waited.toFixed(0)} s: others use ${quiet.foreign.toFixed(2)} cores; measuring anyway)`,
      );
  }
  // Warm-up: JIT, connection pools, heap growth. Not counted.
  if (opts.warmup > 0)
    await saturate({
      tool,
      url,
      connections: opts.connections,
      seconds: opts.warmup,
      cpu: LOAD_CPU,
    });

  const pid = peer.proc?.pid;
  const cpu0 = pid ? cpuSeconds(pid) : null;
  const rss = pid ? sampleRss(pid) : null;
  const s0 = cpuSnapshot();
  const ts0 = nowMs();
  const sat = await saturate({
    tool,
    url,
    connections: opts.connections,
    seconds: opts.duration,
    cpu: LOAD_CPU,
  });
  const ts1 = nowMs();
  const s1 = cpuSnapshot();
  const wall = Number(s1.t - s0.t) / 1e9;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : null;
  const rssBytes = rss ? rss.stop() : null;
  if (sat.errors) problems.push(`${sat.errors} socket errors`);
  if (sat.non2xx) problems.push(`${sat.non2xx} non-2xx`);

  await sleep(500);
  const p0 = cpuSnapshot();
  const tp0 = nowMs();
  const latency = await paced({
    url,
    rate: opts.rate,
    seconds: opts.pacedSeconds,
    warmupSeconds: 1,
    cpu: LOAD_CPU,
  });
  const tp1 = nowMs();
  const p1 = cpuSnapshot();
  // The probes' unit CPU time in each phase; speeds are computed against the best seen (see below).
  const probe = {
    proxySat: probes.unitMicros(PROXY_CPU, ts0, ts1),
    loadSat: probes.unitMicros(LOAD_CPU, ts0, ts1),
    proxyPaced: probes.unitMicros(PROXY_CPU, tp0 + 1000, tp1),
    loadPaced: probes.unitMicros(LOAD_CPU, tp0 + 1000, tp1),
  };
  const foreignSat = foreignCores(s0, s1);
  const foreignPaced = foreignCores(p0, p1);
  if (foreignSat > opts.quietThreshold)
    problems.push(`others used ${foreignSat.toFixed(2)} cores during saturation`);
  if (foreignPaced > opts.quietThreshold)
    problems.push(`others used ${foreignPaced.toFixed(2)} cores during the latency run`);
  if (latency.errors || latency.bad)
    problems.push(
      `paced: ${latency.errors} errors, ${latency.bad} bad (${latency.firstError.join('; ')})`,
    );
  // Timers here are ~1 ms coarse and the VM stalls now and then, so the client is often a few ms
  // late at p99 (latency is timed from the actual send, so that does not inflate it); only a
  // client that fell far behind is worth a note.
  if (latency.lateP99 > 20)
    problems.push(`paced client late by ${latency.lateP99.toFixed(1)} ms at p99`);
  if (pid && peer.proc.exited)
    throw new Error(`process exited during the run: ${JSON.stringify(peer.proc.exited)}`);

  return {
    requests: sat.requests,
    seconds: sat.seconds,
    rps: sat.rps,
    cpuSeconds: cpu,
    // CPU time is counted in 10 ms ticks: over a 10 s run at ~100% that is 0.1% resolution.
    busy: cpu === null ? null : cpu / wall,
    rpsPerCore: cpu ? sat.requests / cpu : null,
    cpuMsPer1k: cpu ? (cpu * 1e6) / sat.requests : null,
    rssBytes,
    latency,
    foreignSat,
    foreignPaced,
    probe,
    speed: speeds(probe, probes),
    quietWait: quiet,
    problems,
  };
}

/**
 * Measures, and measures again (up to --retries times) when the run was disturbed: other
 * processes used CPU, or the core-speed probe says the proxy's core ran slow (host contention).
 * Keeps the least disturbed attempt; the others stay in the JSON.
 */
async function measureSettled(peer, tool, probes) {
  const attempts = [];
  for (let i = 0; i <= opts.retries; i++) {
    const m = await measure(peer, tool, probes);
    m.disturbed = disturbances(m);
    attempts.push(m);
    if (m.disturbed.length === 0) break;
    if (i === opts.retries) break;
    if (budget.spareSeconds() < budget.perMeasurement) {
      log(`  ${peer.name}: disturbed (${m.disturbed.join('; ')}); no time left to measure again`);
      break;
    }
    log(`  ${peer.name}: disturbed (${m.disturbed.join('; ')}): measuring again`);
  }
  budget.done++;
  const score = (m) => m.disturbed.length * 10 - (m.speed.proxySat ?? 0);
  const best = attempts.reduce((a, b) => (score(b) < score(a) ? b : a));
  best.attempts = attempts.length;
  if (attempts.length > 1)
    best.otherAttempts = attempts
      .filter((a) => a !== best)
      .map(({ latency, ...rest }) => ({
        ...rest,
        latency: { p50: latency.p50, p99: latency.p99 },
      }));
  if (best.disturbed.length)
    best.problems.push(
      `still disturbed after ${attempts.length} attempts: ${best.disturbed.join('; ')}`,
    );
  return best;
}

function disturbances(m) {
  const d = [];
  const limit = opts.quietThreshold * 2;
  if (m.foreignSat > limit) d.push(`others used ${m.foreignSat.toFixed(2)} cores under load`);
  if (m.foreignPaced > limit)
    d.push(`others used ${m.foreignPaced.toFixed(2)} cores in the latency run`);
  // Slow proxy core under load: the per-core figure would be low. Slow cores during the latency
  // run: percentiles would carry the host's stalls. (A slow load core under saturation only
  // lowers wall req/s, which is not the figure we report per core.)
  const slow = (what, v) =>
    v != null && v < opts.minSpeed && d.push(`${what} core speed ${fmtSpeed(v)}`);
  if (m.rpsPerCore != null) slow('proxy', m.speed.proxySat);
  slow('proxy (latency run)', m.speed.proxyPaced);
  slow('load (latency run)', m.speed.loadPaced);
  return d;
}

function speeds(probe, probes) {
  const sp = (cpu, us) => (us && probes.best(cpu) ? probes.best(cpu) / us : null);
  return {
    proxySat: sp(PROXY_CPU, probe.proxySat),
    loadSat: sp(LOAD_CPU, probe.loadSat),
    proxyPaced: sp(PROXY_CPU, probe.proxyPaced),
    loadPaced: sp(LOAD_CPU, probe.loadPaced),
  };
}

// --- results -----------------------------------------------------------------------------

function summarize(peers) {
  const direct = peers.find((p) => p.name === 'direct');
  const rows = peers.map((p) => {
    const ok = p.rounds.filter((r) => !r.error);
    const pick = (f) => median(ok.map(f));
    // "Added" latency per round against direct in the same round, then the median.
    const added = (key) =>
      !direct || p === direct
        ? null
        : median(
            p.rounds.map((r, i) =>
              r.error || !direct.rounds[i] || direct.rounds[i].error
                ? null
                : r.latency[key] - direct.rounds[i].latency[key],
            ),
          );
    const perCore = ok.map((r) => r.rpsPerCore).filter((x) => x != null);
    return {
      name: p.name,
      rounds: ok.length,
      failedRounds: p.rounds.length - ok.length,
      dead: p.dead ?? null,
      rpsPerCore: pick((r) => r.rpsPerCore),
      rpsPerCoreMin: perCore.length ? Math.min(...perCore) : null,
      rpsPerCoreMax: perCore.length ? Math.max(...perCore) : null,
      cpuMsPer1k: pick((r) => r.cpuMsPer1k),
      busy: pick((r) => r.busy),
      rps: pick((r) => r.rps),
      p50: pick((r) => r.latency.p50),
      p99: pick((r) => r.latency.p99),
      p999: pick((r) => r.latency.p999),
      addedP50: added('p50'),
      addedP99: added('p99'),
      rssBytes: pick((r) => r.rssBytes),
      foreign: pick((r) => Math.max(r.foreignSat, r.foreignPaced)),
      speed: pick((r) => r.speed?.proxySat),
      // Failures that make a figure wrong, not just noisy: errors, non-2xx, bad bodies.
      errors: [
        ...new Set(
          ok.flatMap((r) =>
            r.problems.filter((t) => /socket errors|non-2xx|paced: |late by/.test(t)),
          ),
        ),
      ],
      disturbedRounds: ok.filter((r) => r.disturbed?.length).length,
      worstOthers: Math.max(0, ...ok.map((r) => Math.max(r.foreignSat ?? 0, r.foreignPaced ?? 0))),
      slowestCore: Math.min(
        1,
        ...ok.flatMap((r) =>
          [r.speed?.proxySat, r.speed?.proxyPaced, r.speed?.loadPaced].filter((x) => x != null),
        ),
      ),
    };
  });
  const nginx = rows.find((r) => r.name === 'nginx');
  for (const r of rows)
    r.xNginx = nginx?.rpsPerCore && r.rpsPerCore ? r.rpsPerCore / nginx.rpsPerCore : null;
  return rows;
}

function renderMarkdown(rep) {
  const s = rep.settings;
  const lines = [];
  lines.push(`## Weft gateway overhead — ${rep.when}`, '');
  lines.push(
    `- Machine: ${rep.machine.cpus} cores, ${rep.machine.cpuModel}, ${rep.machine.memGiB} GiB, Linux ${rep.machine.kernel}, node ${rep.machine.node}`,
  );
  lines.push(`- Command: \`${rep.command}\``);
  if (rep.git)
    lines.push(
      `- Code: commit ${rep.git.commit}${rep.git.dirtyPackages ? ' plus uncommitted changes under packages/' : ''}`,
    );
  lines.push(
    `- ${s.rounds} round(s), medians shown. Saturation: ${s.load} -t1 -c${s.connections} for ${s.duration} s after ${s.warmup} s warm-up; ` +
      `latency: open-loop ${s.rate} req/s for ${s.pacedSeconds} s. Backend: ${s.backend}, 1 KB body, keep-alive both ways. ` +
      `Proxy on core ${s.proxyCpu}; load, backend and control plane on core ${s.loadCpu}.`,
  );
  lines.push('');
  const head = [
    'peer',
    'req/s per core',
    '× nginx',
    'CPU-ms / 1k req',
    'proxy core busy',
    'req/s (wall)',
    'p50 ms',
    'p99 ms',
    'added p50 ms',
    'added p99 ms',
    'RSS MB',
    'core speed',
    "others' CPU",
  ];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of rep.summary) {
    const range =
      r.rpsPerCoreMin != null && r.rounds > 1
        ? ` (${fmtK(r.rpsPerCoreMin)}–${fmtK(r.rpsPerCoreMax)})`
        : '';
    lines.push(
      `| ${r.name}${r.dead ? ' (died)' : ''} | ${r.rpsPerCore == null ? '—' : fmtK(r.rpsPerCore) + range} | ${r.xNginx == null ? '—' : r.xNginx.toFixed(2)} | ` +
        `${r.cpuMsPer1k == null ? '—' : r.cpuMsPer1k.toFixed(1)} | ${r.busy == null ? '—' : fmtPct(r.busy)} | ${r.rps == null ? '—' : fmtK(r.rps)} | ` +
        `${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtMs(r.addedP50)} | ${fmtMs(r.addedP99)} | ${r.rssBytes == null ? '—' : fmtMB(r.rssBytes)} | ${fmtSpeed(r.speed)} | ${r.foreign == null ? '—' : r.foreign.toFixed(2)} |`,
    );
  }
  lines.push('');
  lines.push(
    'req/s per core = requests completed / CPU-seconds the proxy process (tree) used during the saturation run; ' +
      'the range is min–max over rounds. "added" = the peer minus direct, per round, median over rounds. RSS = peak VmRSS during the saturation run. ' +
      'core speed = the core-speed probe on the proxy core during saturation, against the fastest probe window seen on this machine, in this run or earlier ones (1.00 = undisturbed; ' +
      "the VM's host is shared and can slow a core without any sign inside). " +
      "others' CPU = cores used by processes this run did not start (the machine may be shared), the larger of the two phases.",
  );
  const notes = [];
  for (const r of rep.summary) {
    if (r.errors.length) notes.push(`- ${r.name}: ${r.errors.join('; ')}`);
    if (r.disturbedRounds)
      notes.push(
        `- ${r.name}: ${r.disturbedRounds} of ${r.rounds} round(s) still disturbed after the redos ` +
          `(others used up to ${r.worstOthers.toFixed(2)} cores; slowest core speed ${fmtSpeed(r.slowestCore)})`,
      );
    if (r.failedRounds) notes.push(`- ${r.name}: ${r.failedRounds} round(s) failed (see the JSON)`);
    if (r.dead) notes.push(`- ${r.name}: died: ${r.dead.split('\n')[0]}`);
    if (r.busy != null && r.busy < 0.9)
      notes.push(
        `- ${r.name}: its core was only ${fmtPct(r.busy)} busy (core ${s.loadCpu}, load + backend, was the limit, or other processes took turns on core ${s.proxyCpu}): its per-core figure is measured a little below saturation`,
      );
  }
  for (const k of rep.skipped) notes.push(`- ${k.name}: skipped: ${k.reason.split('\n')[0]}`);
  if (notes.length) lines.push('', 'Notes:', ...notes);
  lines.push('');
  return lines.join('\n');
}

// --- options and helpers -----------------------------------------------------------------

function readOptions() {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'paced-seconds': { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      only: { type: 'string' },
      backend: { type: 'string' },
      load: { type: 'string' },
      'max-minutes': { type: 'string' },
      'quiet-threshold': { type: 'string' },
      'quiet-wait': { type: 'string' },
      retries: { type: 'string' },
      'min-speed': { type: 'string' },
      profile: { type: 'string' },
      render: { type: 'string' },
    },
  });
  const env = process.env;
  const quick = values.quick || env.BENCH_QUICK === '1';
  const num = (flag, envName, dflt, quickDflt) => {
    const v = values[flag] ?? env[envName];
    const n = v === undefined ? (quick ? quickDflt : dflt) : Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${flag} / ${envName}: expected a positive number, got ${v}`);
    return n;
  };
  const only =
    (values.only ?? env.BENCH_ONLY)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? ALL_PEERS;
  for (const p of only)
    if (!ALL_PEERS.includes(p))
      throw new Error(`--only: unknown peer ${p} (known: ${ALL_PEERS.join(', ')})`);
  // "direct" is the reference for added latency: always measured.
  const backend = values.backend ?? env.BENCH_BACKEND;
  if (backend && !['nginx', 'node'].includes(backend)) throw new Error('--backend: nginx or node');
  const load = values.load ?? env.BENCH_LOAD;
  if (load && !['wrk', 'autocannon'].includes(load)) throw new Error('--load: wrk or autocannon');
  const o = {
    help: values.help,
    quick,
    rounds: Math.round(num('rounds', 'BENCH_ROUNDS', 3, 1)),
    duration: num('duration', 'BENCH_DURATION', 10, 3),
    pacedSeconds: num('paced-seconds', 'BENCH_PACED_SECONDS', 10, 3),
    warmup: Number(values.warmup ?? env.BENCH_WARMUP ?? (quick ? 1 : 2)),
    rate: num('rate', 'BENCH_RATE', 1000, 1000),
    connections: Math.round(num('connections', 'BENCH_CONNECTIONS', 50, 50)),
    only: new Set(['direct', ...only]),
    backend,
    load,
    maxMinutes: num('max-minutes', 'BENCH_MAX_MINUTES', 30, 15),
    quietThreshold: num('quiet-threshold', 'BENCH_QUIET_THRESHOLD', 0.15, 0.15),
    render: values.render,
    profile: new Set((values.profile ?? env.BENCH_PROFILE ?? '').split(',').filter(Boolean)),
    retries: Math.round(Number(values.retries ?? env.BENCH_RETRIES ?? 2)),
    minSpeed: Number(values['min-speed'] ?? env.BENCH_MIN_SPEED ?? 0.85),
    quietWait: Number(values['quiet-wait'] ?? env.BENCH_QUIET_WAIT ?? (quick ? 5 : 30)),
  };
  if (o.rounds > 20 || o.duration > 120 || o.pacedSeconds > 120)
    throw new Error('bounded on purpose: rounds <= 20, durations <= 120 s');
  return o;
}

const HELP = `Usage: node bench/gateway-overhead.mjs [options]   (or: npm run bench -- [options])

Measures the Weft gateway's per-core throughput, CPU cost, latency at a paced rate and memory,
against direct, a minimal node:http pass-through, http-proxy, @fastify/http-proxy, nginx and
HAProxy (the last two when installed), all on 127.0.0.1, in one run.

  --quick               smoke run: 1 round, 3 s phases           (BENCH_QUICK=1)
  --rounds N            rounds, medians reported; default 3        (BENCH_ROUNDS)
  --duration S          saturation seconds per round; default 10   (BENCH_DURATION)
  --paced-seconds S     latency seconds per round; default 10      (BENCH_PACED_SECONDS)
  --warmup S            un-measured load before each round; def. 2 (BENCH_WARMUP)
  --rate R              paced rate for latency; default 1000       (BENCH_RATE)
  --connections C       saturation connections; default 50         (BENCH_CONNECTIONS)
  --only a,b            peers among: ${ALL_PEERS.join(', ')} (direct is always included)
  --backend nginx|node  default nginx when installed               (BENCH_BACKEND)
  --load wrk|autocannon default wrk when installed                 (BENCH_LOAD)
  --quiet-wait S        before each measurement, wait up to S s for other
                        processes to go quiet; 0 = don't; default 30 (BENCH_QUIET_WAIT)
  --quiet-threshold C   "quiet" = others use < C cores; def. 0.15  (BENCH_QUIET_THRESHOLD)
                        (a measurement disturbed by more than 2C is redone once)
  --retries N           redo a disturbed measurement up to N times; default 2 (BENCH_RETRIES)
  --min-speed F         "disturbed" = core-speed probe below F; default 0.85 (BENCH_MIN_SPEED)
  --profile a,b         V8 CPU profiles of Node peers (weft, node-passthrough, http-proxy,
                        fastify-http-proxy) to bench/results/profiles/ (BENCH_PROFILE);
                        read them with: node bench/profile-summary.mjs <file>
  --max-minutes M       the whole run's limit: waits and redos are dropped when time is
                        short, and the run is stopped at the limit; default 30 (BENCH_MAX_MINUTES)

  --render FILE.json     print the Markdown of an earlier run from its JSON, measure nothing

Results: a Markdown table on stdout, and bench/results/gateway-overhead-<time>.{md,json}.
`;

function describeMachine() {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) cpuModel = m[1].trim();
  } catch {
    /* lscpu missing: os.cpus() model */
  }
  let cpus = os.availableParallelism?.() ?? os.cpus().length;
  try {
    cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cpus;
  } catch {
    /* keep os's count */
  }
  let kernel = os.release();
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    /* os.release() */
  }
  return {
    cpus,
    cpuModel,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel,
    node: process.version,
  };
}

/** Which code was measured: the commit, and whether the tree had uncommitted changes. */
function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: HERE,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', '../packages'], {
        cwd: HERE,
        encoding: 'utf8',
      }).trim() !== '';
    return { commit, dirtyPackages: dirty };
  } catch {
    return null;
  }
}

function log(msg) {
  process.stderr.write(msg + '\n');
}
const fmtK = (n) => (n == null ? '—' : n >= 1000 ? `${(n / 1000).toFixed(1)} k` : n.toFixed(0));
const fmtMs = (n) => (n == null ? '—' : n.toFixed(3));
const fmtMB = (n) => (n / 2 ** 20).toFixed(0);
const fmtSpeed = (n) => (n == null ? '—' : n.toFixed(2));
const fmtPct = (n) => `${(n * 100).toFixed(0)}%`;

// --- run (last, so that every const above is initialised) -------------------------------

const opts = readOptions();
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

if (opts.render) {
  renderSaved(opts.render);
  process.exit(0);
}

installCleanup();
/**
 * Time for waiting out other processes and redoing disturbed measurements comes out of
 * --max-minutes, after keeping enough for every measurement still to do (plus a margin): on a
 * busy machine the run gets less careful, never longer than the limit.
 */
const budget = {
  startedAt: Date.now(),
  planned: 0,
  done: 0,
  // warm-up + saturation + pause + paced warm-up + paced + process start-ups and probes
  perMeasurement: opts.warmup + opts.duration + 0.5 + 1 + opts.pacedSeconds + 2,
  spareSeconds() {
    const left = opts.maxMinutes * 60 - (Date.now() - this.startedAt) / 1000;
    const needed = (this.planned - this.done) * this.perMeasurement + 60;
    return Math.max(0, left - needed);
  },
};
const deadline = setTimeout(() => {
  process.stderr.write(`bench: over the ${opts.maxMinutes} min limit, stopping\n`);
  killAllSync();
  process.exit(2);
}, opts.maxMinutes * 60_000);

await main();
clearTimeout(deadline);
