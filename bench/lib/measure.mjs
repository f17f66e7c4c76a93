// What the benchmark reads about a proxy process from /proc: CPU time and resident memory.
// A proxy may be several processes (nginx: master + worker), so both are summed over the
// process and its descendants.

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { descendants, livePids, readStat, start } from './proc.mjs';

let clkTck;
/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
export function ticksPerSecond() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function tree(pid) {
  return [pid, ...descendants(pid)];
}

/** User + system CPU seconds used so far by the process tree rooted at `pid` (all threads). */
export function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of tree(pid)) {
    const st = readStat(p);
    if (st) ticks += st.utime + st.stime;
  }
  return ticks / ticksPerSecond();
}

/**
 * CPU nanoseconds used so far by every thread of `pid` (the main thread and libuv's pool, which
 * does file writes), from /proc/<pid>/task/<tid>/schedstat: nanosecond resolution, where
 * /proc/<pid>/stat counts 10 ms ticks. Threads that ended are not counted (Node keeps its pool).
 */
export function threadCpuNs(pid) {
  let ns = 0;
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return ns;
}

/** Resident set size in bytes of the process tree (VmRSS from /proc/<pid>/status). */
export function rssBytes(pid) {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return kb * 1024;
}

/** Samples RSS every `everyMs` until stopped; returns the peak, i.e. the RSS under load. */
export function sampleRss(pid, everyMs = 250) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid));
      return peak;
    },
  };
}

/**
 * This machine may be shared (other people's builds and tests). To tell whether a measurement
 * was disturbed, compare all CPU time the kernel counted (/proc/stat) with the CPU time of this
 * run's own processes: this script with its reaped children (wrk, the paced client: cutime),
 * and every child still running, with descendants. The difference is someone else's work.
 */
export function cpuSnapshot() {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const [user, nice, system, , , irq, softirq, steal = 0] = line;
  const total = user + nice + system + irq + softirq + steal;
  let ours = 0;
  const self = readStat(process.pid);
  if (self) ours += self.utime + self.stime + self.cutime + self.cstime;
  for (const pid of livePids()) {
    for (const p of tree(pid)) {
      const st = readStat(p);
      if (st) ours += st.utime + st.stime + st.cutime + st.cstime;
    }
  }
  return { t: process.hrtime.bigint(), total, ours };
}

/** Busy clock ticks of one core so far, from its `cpuN` line in /proc/stat. */
export function coreBusyTicks(cpu) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return 0;
  const [user, nice, system, , , irq, softirq, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** Cores' worth of CPU used by processes not started by this run, between two snapshots. */
export function foreignCores(a, b) {
  const secs = Number(b.t - a.t) / 1e9;
  if (secs <= 0) return 0;
  const foreign = (b.total - a.total - (b.ours - a.ours)) / ticksPerSecond();
  return Math.max(0, foreign / secs);
}

/**
 * Waits until others use less than `threshold` cores over a 1 s window, for at most `maxSeconds`.
 * Returns how long it waited and the last reading.
 */
export async function waitQuiet({ threshold, maxSeconds }) {
  const started = Date.now();
  let last;
  for (;;) {
    const a = cpuSnapshot();
    await new Promise((r) => setTimeout(r, 1000));
    last = foreignCores(a, cpuSnapshot());
    const waited = (Date.now() - started) / 1000;
    if (last < threshold || waited >= maxSeconds)
      return { waited, foreign: last, quiet: last < threshold };
  }
}

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Starts one core-speed probe (lib/core-probe.mjs) pinned to each given core and collects its
 * samples. speed = (fastest window median seen so far on any core) /
 * (median unit time in [fromMs, toMs]); 1.0 means the core did its usual work per CPU-second.
 */
export function startCoreProbes(cpus, { rememberIn } = {}) {
  const script = fileURLToPath(new URL('./core-probe.mjs', import.meta.url));
  const probes = new Map();
  for (const cpu of cpus) {
    const proc = start(`core-probe-${cpu}`, process.execPath, [script], { cpu });
    const samples = [];
    let buf = '';
    proc.child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const [t, us] = buf.slice(0, i).split(' ').map(Number);
        buf = buf.slice(i + 1);
        if (Number.isFinite(t) && Number.isFinite(us)) samples.push([t, us]);
      }
    });
    probes.set(cpu, { proc, samples });
  }
  // The cores are identical vCPUs, so the fastest window on either is the reference for both:
  // a core that was slow from the start cannot become its own baseline.
  let best = Infinity;
  // A run that is contended from start to end must not take its own slow windows as the norm:
  // the fastest window of earlier runs on this machine (same CPU model and Node) is kept in a
  // file (bench/results/, not committed) and used too.
  const key = `${os.cpus()[0]?.model ?? '?'} ${process.version}`;
  let remembered = {};
  if (rememberIn) {
    try {
      remembered = JSON.parse(readFileSync(rememberIn, 'utf8'));
    } catch {
      remembered = {};
    }
    if (Number.isFinite(remembered[key])) best = remembered[key];
  }
  const windowMedian = (cpu, from, to) => {
    const p = probes.get(cpu);
    if (!p) return null;
    return median(p.samples.filter(([t]) => t >= from && t <= to).map(([, us]) => us));
  };
  return {
    procs: [...probes.values()].map((p) => p.proc),
    /** Unit CPU µs, median over the window; also lowers the core's best-seen baseline. */
    unitMicros(cpu, from, to) {
      const m = windowMedian(cpu, from, to);
      if (m != null) best = Math.min(best, m);
      return m;
    },
    best() {
      return Number.isFinite(best) ? best : null;
    },
    /** Saves the fastest window for the next runs. */
    remember() {
      if (!rememberIn || !Number.isFinite(best)) return;
      try {
        writeFileSync(rememberIn, JSON.stringify({ ...remembered, [key]: best }, null, 2) + '\n');
      } catch {
        /* results folder not writable: next run calibrates from scratch */
      }
    },
  };
}

/** Monotonic milliseconds on the same clock the probes print (CLOCK_MONOTONIC). */
export const nowMs = () => Number(process.hrtime.bigint() / 1000n) / 1000;
