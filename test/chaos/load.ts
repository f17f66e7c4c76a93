// A bounded, open-loop load generator for the chaos suite: it sends at a fixed rate whatever
// happens to the answers (a closed loop would slow down when the mesh does, and hide the
// failures), on keep-alive connections to the gateway, and records every request's start,
// end, method and outcome. Nothing runs after stop(): in-flight requests are awaited.

import { Agent, request } from 'node:http';

export interface Sample {
  method: 'GET' | 'POST';
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** Why it failed, in words (status, body, socket error). */
  error?: string;
}

export interface LoadOptions {
  port: number;
  host: string;
  path: string;
  /** Requests per second. */
  rate: number;
  /** Share of POSTs (sent on a route without retries), 0..1. */
  postShare: number;
  /** A request taking longer than this fails. */
  timeoutMs: number;
  /** Checks a 200 answer's body (e.g. that the downstream calls succeeded). */
  check?: (body: string) => string | undefined;
  /** Never more than this many in flight; a request that would exceed it fails as "overload". */
  maxInFlight?: number;
}

export interface RunningLoad {
  /**
   * Stops sending; resolves with every sample once the last answer came, or at once with
   * `abort` (requests still in flight are cut and left out: calibration only).
   */
  stop(opts?: { abort?: boolean }): Promise<Sample[]>;
  sent(): number;
}

export function startLoad(o: LoadOptions): RunningLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  const maxInFlight = o.maxInFlight ?? 2_000;
  const t0 = performance.now();
  let due = 0;
  let sent = 0;
  let posts = 0;
  let aborting = false;

  const one = (method: 'GET' | 'POST'): Promise<void> =>
    new Promise((resolve) => {
      const startedAt = Date.now();
      const finish = (ok: boolean, error?: string) => {
        // Cut by stop({abort}): not an answer from the mesh, so not a sample.
        if (aborting) return resolve();
        samples.push({ method, startedAt, endedAt: Date.now(), ok, ...(error ? { error } : {}) });
        resolve();
      };
      if (pending.size >= maxInFlight) return finish(false, 'overload: too many in flight');
      const req = request(
        {
          host: o.host,
          port: o.port,
          path: o.path,
          method,
          agent,
          headers: { host: 'my-service', 'content-length': '0' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode !== 200)
              return finish(false, `${res.statusCode} ${body.trim().slice(0, 160)}`);
            const bad = o.check?.(body);
            finish(bad === undefined, bad);
          });
          res.on('error', (err) => finish(false, err.message));
        },
      );
      req.setTimeout(o.timeoutMs, () => req.destroy(new Error(`no answer in ${o.timeoutMs} ms`)));
      req.on('error', (err) => finish(false, err.message));
      req.end();
    });

  // Every 10 ms, send what the rate says is due by now (so a late tick catches up).
  const timer = setInterval(() => {
    const target = Math.floor(((performance.now() - t0) / 1000) * o.rate);
    for (; due < target; due++) {
      sent++;
      // Deterministic mix: the n-th request is a POST when the running share falls behind.
      const post = posts < sent * o.postShare;
      if (post) posts++;
      const p = one(post ? 'POST' : 'GET');
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
  }, 10);

  return {
    sent: () => sent,
    async stop(opts) {
      clearInterval(timer);
      if (opts?.abort) {
        aborting = true;
        agent.destroy();
      }
      while (pending.size > 0) await Promise.all([...pending]);
      agent.destroy();
      return samples;
    },
  };
}

export interface CaseFigures {
  sent: number;
  failedIdempotent: number;
  failedPost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function figures(samples: Sample[]): CaseFigures {
  const lat = samples.map((s) => s.endedAt - s.startedAt).sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] ?? 0;
  return {
    sent: samples.length,
    failedIdempotent: samples.filter((s) => !s.ok && s.method === 'GET').length,
    failedPost: samples.filter((s) => !s.ok && s.method === 'POST').length,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: lat[lat.length - 1] ?? 0,
  };
}
