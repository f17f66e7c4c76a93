// A paced (open-loop) HTTP/1.1 client: sends at a fixed rate, whatever the responses do, so a
// slow response cannot hold back the next request (the "coordinated omission" that a closed-loop
// client such as wrk without -R has). wrk2 is not in Debian, hence this.
//
// Run as its own process pinned to the load-generator core:
//   node bench/lib/paced-client.mjs <url> <rate/s> <seconds> [warmupSeconds] [hostHeader]
// It prints one JSON line with latency percentiles in milliseconds.
// With `serve` in place of <seconds> it stays up, keeps its connections, and runs one phase per
// line read from stdin (the line is the number of requests), printing one JSON line each: the
// orchestrator can then read the proxy's CPU time right before and after exactly those requests.
// A <rate/s> of `seq` sends them one after another on one keep-alive connection instead (closed
// loop, concurrency 1): each request then meets an idle proxy, whatever else the machine runs.
//
// Latency is measured from the moment the request is written (hrtime) to the last body byte.
// `intended*` measures from the scheduled send time instead, so a late timer in this client
// shows up there; if the two differ much, the client, not the proxy, was the bottleneck.

import http from 'node:http';

const [url, rateArg, secondsArg, warmupArg = '1', hostHeader] = process.argv.slice(2);
const target = new URL(url);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const warmupSeconds = Number(warmupArg);
const EXPECT_BYTES = Number(process.env.BENCH_EXPECT_BYTES ?? 1024);

// Enough sockets that a stalled response makes the agent open another connection instead of
// queueing the next request behind it (keeping the client open-loop); normally one or two are used.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });
const headers = hostHeader ? { host: hostHeader } : {};
const intervalNs = rateArg === 'seq' ? 0n : BigInt(Math.round(1e9 / rate));

/** One GET; `done(status, bytes)` once the body has ended, or `done(0, 0, err)` on failure. */
function send(done) {
  const req = http.request(
    {
      agent,
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      headers,
    },
    (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => done(res.statusCode, bytes));
    },
  );
  req.setTimeout(5000, () => req.destroy(new Error('timeout after 5 s')));
  req.on('error', (err) => done(0, 0, err));
  req.end();
}

async function phase(count, record) {
  const lat = new Float64Array(count);
  const intended = new Float64Array(count);
  const lateness = new Float64Array(count);
  let sent = 0;
  let finished = 0;
  let ok = 0;
  let errors = 0;
  let bad = 0;
  const t0 = process.hrtime.bigint() + 2_000_000n;
  const firstError = [];

  await new Promise((resolve) => {
    const fire = (i) => {
      const due = t0 + BigInt(i) * intervalNs;
      const start = process.hrtime.bigint();
      lateness[i] = Number(start - due) / 1e6;
      send((status, bytes, err) => {
        if (err !== undefined) {
          errors++;
          lat[i] = NaN;
          intended[i] = NaN;
          if (firstError.length < 3) firstError.push(err.message);
          return settle();
        }
        const end = process.hrtime.bigint();
        lat[i] = Number(end - start) / 1e6;
        intended[i] = Number(end - due) / 1e6;
        if (status === 200 && bytes === EXPECT_BYTES) ok++;
        else {
          bad++;
          if (firstError.length < 3) firstError.push(`status ${status}, ${bytes} bytes`);
        }
        settle();
      });
    };
    const settle = () => {
      if (++finished === count) resolve();
    };
    const tick = () => {
      const now = process.hrtime.bigint();
      const due = now < t0 ? 0 : Math.min(count, Number((now - t0) / intervalNs) + 1);
      while (sent < due) fire(sent++);
      if (sent < count) {
        // Sleep until the next scheduled send; timers are ~1 ms coarse, so several requests may
        // go out in one tick when the timer is late (visible in `lateP99`).
        const next = t0 + BigInt(sent) * intervalNs;
        const waitMs = Number(next - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      }
    };
    tick();
  });

  if (!record) return null;
  const sorted = (a) =>
    Array.from(a)
      .filter((x) => !Number.isNaN(x))
      .sort((x, y) => x - y);
  const s = sorted(lat);
  const si = sorted(intended);
  const sl = sorted(lateness);
  const pct = (arr, p) =>
    arr.length ? arr[Math.min(arr.length - 1, Math.ceil((p / 100) * arr.length) - 1)] : null;
  return {
    requests: count,
    ok,
    bad,
    errors,
    firstError,
    rate,
    seconds: count / rate,
    p50: pct(s, 50),
    p90: pct(s, 90),
    p99: pct(s, 99),
    p999: pct(s, 99.9),
    max: s.length ? s[s.length - 1] : null,
    intendedP50: pct(si, 50),
    intendedP99: pct(si, 99),
    lateP50: pct(sl, 50),
    lateP99: pct(sl, 99),
  };
}

/** `count` requests one after another (rate `seq`); the same result shape as phase(). */
async function sequential(count) {
  const lat = new Float64Array(count);
  let ok = 0;
  let bad = 0;
  let errors = 0;
  const firstError = [];
  const one = () =>
    new Promise((resolve) => {
      const start = process.hrtime.bigint();
      send((status, bytes, err) => {
        if (err !== undefined) {
          errors++;
          if (firstError.length < 3) firstError.push(err.message);
          return resolve(NaN);
        }
        if (status === 200 && bytes === EXPECT_BYTES) ok++;
        else bad++;
        resolve(Number(process.hrtime.bigint() - start) / 1e6);
      });
    });
  for (let i = 0; i < count; i++) lat[i] = await one();
  const s = Array.from(lat)
    .filter((x) => !Number.isNaN(x))
    .sort((x, y) => x - y);
  const pct = (p) =>
    s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
  return { requests: count, ok, bad, errors, firstError, p50: pct(50), p99: pct(99) };
}

if (secondsArg === 'serve') {
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    const n = Number(line.trim());
    if (!(n > 0)) break;
    const result = rateArg === 'seq' ? await sequential(n) : await phase(n, true);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  agent.destroy();
  process.exit(0);
}

// Warm-up at the same rate (connection set-up, JIT of this client's own code), not recorded.
if (warmupSeconds > 0) await phase(Math.max(1, Math.round(rate * warmupSeconds)), false);
const result = await phase(Math.max(1, Math.round(rate * seconds)), true);
process.stdout.write(JSON.stringify(result) + '\n');
agent.destroy();
