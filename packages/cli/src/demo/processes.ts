// Starting the demo's parts as real child processes. Each long-running weft command (and the
// seed app) prints one JSON line `{"event":"ready",...}` on stdout once it serves; logs go to
// stderr, which the demo keeps in one file per process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  child: ChildProcess;
  pid: number;
  ready: Record<string, unknown>;
}

export function spawnReady(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; logFile: string; timeoutMs?: number },
): Promise<Child> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.pipe(log);
  const tail: string[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    tail.push(d.toString());
    if (tail.length > 20) tail.shift();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${name} did not become ready in ${opts.timeoutMs ?? 20_000} ms; log: ${opts.logFile}`,
        ),
      );
    }, opts.timeoutMs ?? 20_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.event === 'ready') {
        clearTimeout(timer);
        resolve({ name, child, pid: child.pid ?? 0, ready: msg });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${name} exited before it was ready (${signal ?? `code ${code}`}):\n${tail.join('').trim().slice(-2000)}`,
        ),
      );
    });
  });
}

/**
 * A free port for an app that must be told its port before it starts (the seed services read
 * PORT). Weft's own processes bind port 0 and report theirs instead.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export function stopChild(c: ChildProcess, graceMs = 5_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  });
}
