// Small HTTP helpers shared by the integration tests: one request on a fresh connection,
// and polling until a condition holds (bounded, for a snapshot to reach a proxy).

import { request, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function send(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host: opts.host ?? 'localhost', ...opts.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Registers an instance with a control plane's API (60 s lease); fails on anything but 201. */
export async function registerInstance(
  controlUrl: string,
  instance: { service: string; address: string; port: number; id: string },
): Promise<void> {
  const res = await fetch(`${controlUrl}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ttlSeconds: 60, ...instance }),
  });
  if (res.status !== 201)
    throw new Error(`register ${instance.id}: ${res.status} ${await res.text()}`);
}

/** Applies one YAML file through the API; fails unless accepted. Returns the new revision and the warnings. */
export async function applyYaml(
  controlUrl: string,
  path: string,
  content: string,
): Promise<{ revision: number; warnings: Array<{ field: string; message: string }> }> {
  const res = await fetch(`${controlUrl}/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ files: [{ path, content }] }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`apply ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as {
    revision: number;
    warnings: Array<{ field: string; message: string }>;
  };
}
