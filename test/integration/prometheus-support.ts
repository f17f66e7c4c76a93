// Helpers for the observability tests: the weft CLI and promtool as child processes, a real
// Prometheus (Debian's `prometheus` package) on 127.0.0.1 in a temporary folder, and polling
// with a deadline (tests wait for what they need, never for a fixed time).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { freePort, until as pollUntil, WEFT } from '../support/weft-process.js';

export { freePort, WEFT };

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    p.stdin.end(opts.stdin ?? '');
  });
}

export function runWeft(control: string, args: string[], timeoutMs = 30_000): Promise<Ran> {
  return run(process.execPath, [WEFT, '--control', control, ...args], { timeoutMs });
}

/** The shared poller with this suite's pace: Prometheus scrapes at 1 s, so poll every 100 ms. */
export function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  return pollUntil(what, probe, timeoutMs, 100);
}

/**
 * `promtool check metrics` on an endpoint's exposition. Istio's standard names break one of
 * promtool's naming lints (istio_request_duration_milliseconds is not in seconds), exactly
 * as Istio's own proxies do; that one is expected, any other problem (or a parse error) is
 * returned as a failure.
 */
export async function promtoolProblems(exposition: string): Promise<string[]> {
  const r = await run('promtool', ['check', 'metrics'], { stdin: exposition });
  const lines = `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const expected = (l: string) =>
    /^istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"$/.test(
      l,
    );
  const problems = lines.filter((l) => !expected(l));
  // Exit 0 = clean; 3 = lint findings only (all expected, checked above); anything else failed.
  if (r.code !== 0 && r.code !== 3) problems.push(`promtool exited with ${r.code}`);
  if (r.code === 3 && problems.length === 0 && lines.length === 0)
    problems.push('promtool reported lint findings without naming them');
  return problems;
}

export interface RunningPrometheus {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Instant query; returns the result vector. */
  query(
    expr: string,
    time?: number,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(
  configFile: string,
  dataDir: string,
): Promise<RunningPrometheus> {
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await until('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      return r.ok ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    pid: child.pid ?? 0,
    child,
    async query(expr, time) {
      const q = new URLSearchParams({ query: expr });
      if (time !== undefined) q.set('time', String(time));
      const r = await fetch(`${url}/api/v1/query?${q.toString()}`, {
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await r.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data?.result ?? [];
    },
    stop,
  };
}
