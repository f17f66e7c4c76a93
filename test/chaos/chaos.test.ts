// The chaos suite (issue 4): load through the gateway and order's sidecars of the seed mesh
// (examples/seed, real processes on 127.0.0.1) while one of three order instances is, in
// turn, SIGKILLed, hung (SIGSTOP), made to answer 503, made 2 s slow; then the control plane
// is killed; then every order instance is restarted one by one. Each case prints requests
// sent, failed and p99; the suite ends with one table. Targets: no idempotent request (GET,
// retried by the route) fails in any case but the hung instance, where failures stop within
// the outlier detection interval plus one (per-try) timeout; across the rolling restart not even
// a POST (on a route without retries) fails.
//
//   npm run test:chaos                     CHAOS_RPS=300 CHAOS_SECONDS=12 by default

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { figures, startLoad, type CaseFigures, type Sample } from './load.js';
import { ChaosMesh, ORDER_IDS, OUTLIER_INTERVAL_MS, PER_TRY_TIMEOUT_MS } from './mesh.js';

/** The rate asked for; the suite runs at the highest rate (halving from it) the machine carries. */
const WANTED_RATE = Number(process.env.CHAOS_RPS ?? 300);
const MIN_RATE = 25;
/** Rolling restart: how long a new instance serves before the next old one is stopped. */
const MIN_READY_MS = 3_000;
let RATE = WANTED_RATE;
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 12);
/** When the fault starts, after the load did. */
const FAULT_AT_MS = 2_000;

interface Row extends CaseFigures {
  name: string;
  seconds: number;
  note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An order answer is good when order and both of its downstream calls answered. */
function checkOrder(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as {
      service?: string;
      user?: { status?: number; error?: string };
      stock?: { status?: number; error?: string };
    };
    if (j.service !== 'order') return `not order: ${body.slice(0, 120)}`;
    if (j.user?.status !== 200) return `order's call to user failed: ${JSON.stringify(j.user)}`;
    if (j.stock?.status !== 200) return `order's call to stock failed: ${JSON.stringify(j.stock)}`;
    return undefined;
  } catch {
    return `not JSON: ${body.slice(0, 120)}`;
  }
}

function line(r: Row): string {
  return [
    r.name.padEnd(26),
    String(r.sent).padStart(6),
    String(r.failedIdempotent).padStart(10),
    String(r.failedPost).padStart(11),
    String(r.p50Ms).padStart(7),
    String(r.p99Ms).padStart(7),
    String(r.maxMs).padStart(7),
    `  ${r.note}`,
  ].join(' ');
}
const HEADER = `${'case'.padEnd(26)} ${'sent'.padStart(6)} ${'failed GET'.padStart(10)} ${'failed POST'.padStart(11)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)}  note`;

function firstErrors(samples: Sample[], method?: 'GET' | 'POST'): string {
  const t0 = samples[0]?.startedAt ?? 0;
  return samples
    .filter((s) => !s.ok && (method === undefined || s.method === method))
    .slice(0, 5)
    .map((s) => `${s.method} sent at +${s.startedAt - t0} ms (${s.startedAt}): ${s.error}`)
    .join('\n');
}

describe('chaos: the seed mesh under load while instances fail', { timeout: 300_000 }, () => {
  const mesh = new ChaosMesh();
  const rows: Row[] = [];
  const suiteStart = Date.now();

  before(async () => {
    await mesh.start();
    // Warm-up, not measured: fresh processes compile their hot paths and fill their
    // connection pools in the first seconds, which says nothing about failure handling.
    // Then calibration: a fault case means something only at a rate the healthy mesh carries
    // (no failure, p99 under half a second); on a machine shared with other work that may be less
    // than asked, so the rate is halved until it is carried (and printed with the results).
    const run = async (judge: boolean) => {
      const load = startLoad({
        host: '127.0.0.1',
        port: mesh.gatewayPort,
        path: '/order',
        rate: RATE,
        postShare: 0.1,
        timeoutMs: 20_000,
        ...(judge ? { check: checkOrder } : {}),
      });
      await sleep(3_000);
      // Cut, not awaited: at a rate the mesh cannot carry, waiting would cost seconds per step.
      const samples = await load.stop({ abort: true });
      return { ...figures(samples), cut: load.sent() - samples.length };
    };
    await run(false);
    for (;;) {
      const f = await run(true);
      const failed = f.failedIdempotent + f.failedPost;
      // More than half a second's worth still in flight at the end is a queue, not a mesh
      // that keeps up.
      const carried = failed === 0 && f.p99Ms < 500 && f.cut <= RATE / 2;
      console.log(
        `# calibration at ${RATE}/s: p99 ${f.p99Ms} ms, ${failed} failed, ${f.cut} still in flight${carried ? '' : ': not carried'}`,
      );
      if (carried || RATE / 2 < MIN_RATE) break;
      RATE = Math.floor(RATE / 2);
    }
    await mesh.settled();
    console.log(
      `# chaos: mesh up in ${Date.now() - suiteStart} ms (logs: ${mesh.logDir}); load ${RATE} requests/s (asked ${WANTED_RATE}), ${SECONDS} s per case, 10 % POST`,
    );
  });

  after(async () => {
    console.log(
      `# \n# load ${RATE} requests/s (asked ${WANTED_RATE}), 10 % POST on a route without retries\n# ${HEADER}`,
    );
    for (const r of rows) console.log(`# ${line(r)}`);
    console.log(`# whole suite: ${((Date.now() - suiteStart) / 1000).toFixed(0)} s`);
    if (process.env.CHAOS_RESULTS)
      writeFileSync(
        process.env.CHAOS_RESULTS,
        JSON.stringify({ rate: RATE, askedRate: WANTED_RATE, rows }, null, 2),
      );
    await mesh.stop();
  });

  /** Runs load for `seconds` while `fault` plays its timeline; records and prints the row. */
  async function runCase(
    name: string,
    seconds: number,
    fault: (startedAt: number) => Promise<string>,
    /** Puts the mesh back as it was (runs even when the fault failed), before any assertion. */
    recover: () => Promise<void> = () => mesh.settled(),
  ): Promise<{ row: Row; samples: Sample[] }> {
    const load = startLoad({
      host: '127.0.0.1',
      port: mesh.gatewayPort,
      path: '/order',
      rate: RATE,
      postShare: 0.1,
      timeoutMs: 20_000,
      check: checkOrder,
    });
    const startedAt = Date.now();
    const end = startedAt + seconds * 1000;
    let note = '';
    let failed: unknown;
    try {
      note = await fault(startedAt);
    } catch (err) {
      failed = err;
    }
    await sleep(Math.max(0, end - Date.now()));
    const samples = await load.stop();
    await recover();
    const row: Row = { name, seconds, note, ...figures(samples) };
    rows.push(row);
    console.log(`# ${HEADER}\n# ${line(row)}`);
    if (failed) throw failed;
    return { row, samples };
  }

  it('baseline: no fault', async () => {
    const { row, samples } = await runCase('baseline', 5, async () => '');
    assert.equal(row.failedIdempotent + row.failedPost, 0, firstErrors(samples));
  });

  it('SIGKILL one of three order instances (sidecar and app)', async () => {
    const { row, samples } = await runCase(
      'SIGKILL one instance',
      SECONDS,
      async () => {
        await sleep(FAULT_AT_MS);
        const victim = mesh.instance('order-1');
        victim.p.signalGroup('SIGKILL');
        await victim.p.exited;
        return 'order-1 killed at 2 s';
      },
      async () => {
        await mesh.startInstance('order', 'order-1');
        await mesh.settled();
      },
    );
    assert.equal(row.failedIdempotent, 0, firstErrors(samples, 'GET'));
  });

  it('SIGSTOP one (a hung instance): failures stop within the outlier interval plus one timeout', async () => {
    let stoppedAt = 0;
    const { row, samples } = await runCase(
      'SIGSTOP one (hung)',
      SECONDS + 2,
      async () => {
        await sleep(FAULT_AT_MS);
        stoppedAt = Date.now();
        mesh.instance('order-2').p.signalGroup('SIGSTOP');
        return 'order-2 stopped at 2 s, resumed after the case';
      },
      async () => {
        mesh.instance('order-2').p.signalGroup('SIGCONT');
        // Resumed, it finds its lease expired and registers again.
        await mesh.settled();
      },
    );
    const bound = stoppedAt + OUTLIER_INTERVAL_MS + PER_TRY_TIMEOUT_MS;
    const late = samples.filter((s) => !s.ok && s.method === 'GET' && s.startedAt > bound);
    const lastFail = samples
      .filter((s) => !s.ok && s.method === 'GET')
      .reduce((m, s) => Math.max(m, s.startedAt), 0);
    row.note += lastFail
      ? `; last failed GET sent ${lastFail - stoppedAt} ms after SIGSTOP`
      : '; no GET failed';
    assert.equal(
      late.length,
      0,
      `GETs still failing after ${bound - stoppedAt} ms:\n${firstErrors(late)}`,
    );
  });

  it('one instance answers 503 for 6 s', async () => {
    const { row, samples } = await runCase('503 from one for 6 s', SECONDS, async () => {
      await sleep(FAULT_AT_MS);
      await mesh.fault('order-3', '/admin/fail?status=503&for=6000');
      return 'order-3 answers 503 (health checks too) from 2 s to 8 s';
    });
    assert.equal(row.failedIdempotent, 0, firstErrors(samples, 'GET'));
  });

  it('one instance is 2 s slow for 8 s', async () => {
    const { row, samples } = await runCase(
      '2 s latency on one',
      SECONDS,
      async () => {
        await sleep(FAULT_AT_MS);
        await mesh.fault('order-1', '/admin/delay?ms=2000&for=8000');
        return 'order-1 answers 2 s late from 2 s to 10 s';
      },
      async () => {
        await mesh.fault('order-1', '/admin/reset');
        await mesh.settled();
      },
    );
    assert.equal(row.failedIdempotent, 0, firstErrors(samples, 'GET'));
  });

  it('the control plane is killed, and comes back', async () => {
    const { row, samples } = await runCase('control plane killed', SECONDS, async () => {
      await sleep(FAULT_AT_MS);
      mesh.control.signalGroup('SIGKILL');
      await mesh.control.exited;
      await sleep(6_000);
      await mesh.startControl();
      return 'SIGKILL at 2 s, started again at 8 s';
    });
    // Recovered (runCase's settle): every proxy reconnected, every instance is still there.
    assert.equal(row.failedIdempotent, 0, firstErrors(samples, 'GET'));
  });

  it('every order instance is restarted, one by one (SIGTERM, then a new one)', async () => {
    const { row, samples } = await runCase('rolling restart', 1, async () => {
      await sleep(1_000);
      const t = Date.now();
      for (const id of ORDER_IDS) {
        const old = mesh.instance(id);
        old.p.child.kill('SIGTERM');
        const exit = await old.p.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, `${id} did not stop cleanly`);
        await mesh.startInstance('order', id);
        await mesh.settled();
        // A Deployment's minReadySeconds: the new instance serves a while before the next goes.
        await sleep(MIN_READY_MS);
      }
      return `3 instances restarted in ${((Date.now() - t) / 1000).toFixed(1)} s`;
    });
    assert.equal(row.failedIdempotent, 0, firstErrors(samples, 'GET'));
    assert.equal(
      row.failedPost,
      0,
      `a POST was lost in the rolling restart:\n${firstErrors(samples)}`,
    );
  });
});
