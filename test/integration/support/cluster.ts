// Helpers for the cluster tests: control planes as real `weft control` processes (so that a
// replica can be SIGKILLed), and a proxy's snapshot stream with a recording apply().

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectSnapshotStream } from '@weft/proxy';
import type { Snapshot } from '@weft/model';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const WEFT = join(ROOT, 'packages/cli/bin/weft.js');

export interface ControlProcess {
  url: string;
  pid: number;
  /** Everything the process wrote to stderr (its log). */
  log(): string;
  readonly exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Starts `weft control ARGS --port 0` and resolves once it printed its ready line. */
export function startControlProcess(
  args: string[],
  timeoutMs = 30_000,
  onLog?: (all: string) => void,
): Promise<ControlProcess> {
  const child = spawn(process.execPath, [WEFT, 'control', '--insecure', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'info' },
  });
  live.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    onLog?.(stderr);
  });
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      live.delete(child);
      r();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft control did not start in ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`weft control exited during start-up:\n${stderr}`));
    });
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.includes('"event":"ready"'));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { url: string };
      resolve({
        url: ready.url,
        pid: child.pid ?? 0,
        log: () => stderr,
        exited,
        async kill(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}

export interface RecordingProxy {
  readonly snapshot: Snapshot | undefined;
  /** Every version applied, in order. */
  readonly applied: number[];
  /** The control plane it is connected to now. */
  connectedTo(): string | undefined;
  /** Resolves with the first applied snapshot (current or later) that satisfies pred. */
  until(pred: (s: Snapshot) => boolean): Promise<Snapshot>;
  /** Resolves at the next connection to a control plane, with its URL and the time. */
  nextConnect(): Promise<{ url: string; at: number }>;
  close(): void;
}

export function recordingProxy(opts: {
  control: string[];
  id: string;
  role?: 'sidecar' | 'gateway';
  service?: string;
  upstreams?: string[];
}): RecordingProxy {
  let snapshot: Snapshot | undefined;
  const applied: number[] = [];
  const waiters = new Set<() => void>();
  const connectWaiters = new Set<(c: { url: string; at: number }) => void>();
  const client = connectSnapshotStream({
    control: opts.control,
    node: {
      id: opts.id,
      role: opts.role ?? 'sidecar',
      namespace: 'default',
      labels: {},
      ...(opts.service ? { service: opts.service } : {}),
    },
    ...(opts.upstreams ? { upstreams: opts.upstreams } : {}),
    apply: (s) => {
      snapshot = s;
      applied.push(s.version);
      for (const w of [...waiters]) w();
    },
    version: () => snapshot?.version,
    log: () => undefined,
    onConnected: (url) => {
      const at = performance.now();
      for (const w of [...connectWaiters]) w({ url, at });
      connectWaiters.clear();
    },
  });
  return {
    get snapshot() {
      return snapshot;
    },
    applied,
    connectedTo: () => client.connectedTo(),
    until(pred) {
      return new Promise((resolve) => {
        const check = () => {
          if (snapshot && pred(snapshot)) {
            waiters.delete(check);
            resolve(snapshot);
          }
        };
        waiters.add(check);
        check();
      });
    },
    nextConnect: () => new Promise((r) => connectWaiters.add(r)),
    close: () => client.close(),
  };
}

export async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** Calls `check` until it returns a value (not undefined), pausing `everyMs` between tries. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET through a proxy with a Host header (fetch cannot set Host). */
export function getVia(
  port: number,
  path: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { ...headers, host },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export const ETCD_MISSING =
  'etcd is not on PATH: `node scripts/install-test-deps.mjs` installs it (Debian etcd-server)';

/** A Gateway `edge` for host `shop` and a VirtualService `shop` on it sending every request to `host`. */
export function shopConfig(host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [shop] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
spec:
  hosts: [shop]
  gateways: [edge]
  http:
    - route: [{ destination: { host: ${host} } }]
`;
}

/** Runs `weft ARGS` and resolves with its stdout; rejects with its stderr on a non-zero exit. */
export function runWeft(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
  });
}
