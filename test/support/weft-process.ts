// Real weft processes for the integration and chaos tests: spawned with the `weft` binary
// users run, each in its own process group (so a test can SIGKILL or SIGSTOP an instance as a
// whole: the sidecar and the app it started), with the JSON event lines they print on stdout
// collected and awaitable.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WEFT = join(ROOT, 'packages/cli/bin/weft.js');

export interface WeftEvent {
  event: string;
  [k: string]: unknown;
}

export interface WeftProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  events: WeftEvent[];
  /** The last 200 stderr lines (logs), for failure messages. */
  stderr: string[];
  /** Resolves with the first event (past or future) that `pred` accepts. */
  event(pred: (e: WeftEvent) => boolean, timeoutMs?: number): Promise<WeftEvent>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to the whole process group (the sidecar and its app). */
  signalGroup(sig: NodeJS.Signals): void;
}

export function startWeft(
  name: string,
  args: string[],
  opts: { env?: Record<string, string>; logFile?: string } = {},
): WeftProcess {
  const child = spawn(process.execPath, [WEFT, ...args], {
    env: { ...process.env, WEFT_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const events: WeftEvent[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const e = JSON.parse(line) as WeftEvent;
      if (typeof e.event === 'string') events.push(e);
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (opts.logFile) appendFileSync(opts.logFile, `${line}\n`);
    stderr.push(line);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      r({ code, signal });
      for (const w of [...waiters]) w();
    }),
  );
  const p: WeftProcess = {
    name,
    child,
    pid: child.pid ?? 0,
    events,
    stderr,
    exited,
    event(pred, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = events.find(pred);
          if (e) {
            done();
            resolve(e);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`${name} exited before the awaited event:\n${tail(stderr)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no such event in ${timeoutMs} ms:\n${tail(stderr)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    signalGroup(sig) {
      try {
        process.kill(-p.pid, sig);
      } catch {
        // Already gone.
      }
    },
  };
  return p;
}

function tail(lines: string[]): string {
  return lines.slice(-15).join('\n').slice(-3000);
}

/** Kills whatever is left of a process group (test clean-up). */
export async function killGroup(p: WeftProcess | undefined): Promise<void> {
  if (!p) return;
  p.signalGroup('SIGCONT');
  p.signalGroup('SIGKILL');
  await p.exited;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * Polls `probe` until it returns a value (not undefined). For state the API has no push for
 * (the registry's view); bounded, so a broken mesh fails the test instead of hanging it.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}
