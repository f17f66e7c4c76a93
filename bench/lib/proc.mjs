// Process management for the benchmark: start pinned children, wait for their ready line
// or port, and end them — only the ones this run started, by PID, also on error or Ctrl-C.

import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

/** Every child we spawned that has not been reaped yet: pid -> { name, child }. */
const live = new Map();
/** Descendants seen while a child ran (nginx forks its worker): ended with their parent. */
const seenDescendants = new Map();

let hasTaskset;
/** Wraps a command in `taskset -c <cpu>` so the process (and threads it starts) stays on that core. */
export function pinned(cpu, cmd, args) {
  if (hasTaskset === undefined) hasTaskset = commandExists('taskset');
  if (!hasTaskset || cpu === undefined) return [cmd, args];
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}

export function commandExists(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins the calling process (all its threads) to one core: the orchestrator shares core 0
 * with the load generator and backend, never the proxy's core.
 */
export function pinSelf(cpu) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a process. `taskset` execs the real program, so the PID we get is the program's own.
 * stderr is kept (last 8 KB) for error messages; stdout is scanned for a JSON ready line.
 */
export function start(name, cmd, args, { cpu, env, cwd, stdin = 'ignore' } = {}) {
  const [c, a] = pinned(cpu, cmd, args);
  const child = spawn(c, a, {
    cwd,
    env: { ...process.env, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const proc = { name, child, pid: child.pid, stderr: '', stdout: '', exited: null };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    proc.stderr = (proc.stderr + d).slice(-8192);
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    proc.stdout = (proc.stdout + d).slice(-65536);
  });
  proc.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = { code, signal };
      live.delete(child.pid);
      resolve(proc.exited);
    });
    child.on('error', (err) => {
      proc.exited = { code: null, signal: null, error: err.message };
      live.delete(child.pid);
      resolve(proc.exited);
    });
  });
  if (child.pid) live.set(child.pid, proc);
  return proc;
}

/** Waits for the first stdout line that parses as JSON and satisfies `accept`. */
export function waitForReadyLine(
  proc,
  { timeoutMs = 15000, accept = (o) => o?.event === 'ready' } = {},
) {
  return new Promise((resolve, reject) => {
    // Start from what stdout already held, in case the line came before we listened.
    let buf = '';
    const onData = (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        try {
          const o = JSON.parse(line);
          if (accept(o)) return done(null, o);
        } catch {
          /* not our line */
        }
      }
    };
    const timer = setTimeout(
      () => done(new Error(`${proc.name}: no ready line within ${timeoutMs} ms${tail(proc)}`)),
      timeoutMs,
    );
    const onExit = () =>
      done(
        new Error(
          `${proc.name}: exited before ready (${JSON.stringify(proc.exited)})${tail(proc)}`,
        ),
      );
    function done(err, v) {
      clearTimeout(timer);
      proc.child.stdout.off('data', onData);
      proc.child.off('exit', onExit);
      if (err) reject(err);
      else resolve(v);
    }
    proc.child.stdout.on('data', onData);
    proc.child.once('exit', onExit);
    onData(proc.stdout);
    if (proc.exited) onExit();
  });
}

/** For servers with no ready line (nginx, HAProxy): poll until the port accepts a connection. */
export async function waitForPort(proc, port, { timeoutMs = 10000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited)
      throw new Error(
        `${proc.name}: exited before listening (${JSON.stringify(proc.exited)})${tail(proc)}`,
      );
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${proc.name}: port ${port} not open within ${timeoutMs} ms${tail(proc)}`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A free port for programs that cannot listen on port 0 and report it (nginx, HAProxy).
 * There is a small window between closing and their bind; on loopback in one run it is fine.
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Ends one process we started: SIGTERM, then SIGKILL after a grace period; its descendants too. */
export async function stop(proc, { graceMs = 3000 } = {}) {
  if (!proc || proc.exited) return;
  const kids = descendants(proc.pid);
  for (const k of kids) seenDescendants.set(k, proc.pid);
  signal(proc.pid, 'SIGTERM');
  const t = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([proc.exitPromise, t])) === 'timeout') signal(proc.pid, 'SIGKILL');
  await proc.exitPromise;
  for (const k of kids) if (alive(k)) signal(k, 'SIGKILL');
}

/** PIDs of the children this run started that are still running. */
export function livePids() {
  return [...live.keys()];
}

/** Synchronous last resort (process 'exit', signals, crashes): kill what is left, by PID. */
export function killAllSync() {
  for (const [pid] of live) {
    for (const k of descendants(pid)) seenDescendants.set(k, pid);
    signal(pid, 'SIGKILL');
  }
  for (const [k] of seenDescendants) if (alive(k)) signal(k, 'SIGKILL');
  live.clear();
}

/** Ends every child still running: SIGTERM (nginx's master then ends its worker), SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 2000) {
  await Promise.all([...live.values()].map((p) => stop(p, { graceMs })));
}

/** Installs handlers so that Ctrl-C, SIGTERM, an uncaught error or a normal exit end our children. */
export function installCleanup() {
  process.on('exit', killAllSync);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      // A second signal while stopping: no more patience.
      if (stopping) {
        killAllSync();
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`\nbench: ${sig}, stopping the processes it started\n`);
      stopAll().finally(() => process.exit(130));
    });
  }
  const crash = (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    if (stopping) return;
    stopping = true;
    stopAll().finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs whose parent chain leads to `pid` (from /proc/<pid>/stat's ppid field). */
export function descendants(pid) {
  const parentOf = new Map();
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = readStat(Number(e));
    if (st) parentOf.set(Number(e), st.ppid);
  }
  const out = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop();
    for (const [c, pp] of parentOf) {
      if (pp === p) {
        out.push(c);
        frontier.push(c);
      }
    }
  }
  return out;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses, so the
 * fields are counted from the last ')'. utime and stime (fields 14, 15) cover all threads.
 */
export function readStat(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field N is rest[N - 3]. cutime/cstime (16, 17): reaped children.
  return {
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
    cutime: Number(rest[13]),
    cstime: Number(rest[14]),
  };
}

export function tail(proc) {
  const t = proc.stderr.trim().split('\n').slice(-15).join('\n');
  return t ? `\n--- ${proc.name} stderr (tail) ---\n${t}` : '';
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
