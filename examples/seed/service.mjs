#!/usr/bin/env node
// One of the seed's three example services (user, order, stock). It is an ordinary HTTP app
// that knows nothing of the mesh, except where to send its outbound calls: the sidecar's
// outbound address, given in WEFT_OUTBOUND. It calls other services by name by sending the
// request to that address with the service's name in the Host header.
//
//   SERVICE=order INSTANCE=order-1 VERSION=v1 PORT=9001 CALLS=user,stock \
//   WEFT_OUTBOUND=http://127.0.0.1:15001 node examples/seed/service.mjs
//
// Started by its sidecar (`weft sidecar --service order -- node examples/seed/service.mjs`), it
// gets PORT, WEFT_OUTBOUND, WEFT_SERVICE and WEFT_INSTANCE from the sidecar.
//
// Fault hooks for the chaos suite (test/chaos), off unless SEED_ADMIN=1. They are on the app's
// own port, which only its sidecar and the machine's user reach:
//   POST /admin/fail?status=503&for=5000   every request (health checks too) answers 503 for 5 s
//   POST /admin/delay?ms=2000&for=10000    every request waits 2 s before it is handled, for 10 s
//   POST /admin/reset                      ends both at once
import http from 'node:http';

const service = process.env.SERVICE ?? process.env.WEFT_SERVICE ?? 'user';
const instance = process.env.INSTANCE ?? process.env.WEFT_INSTANCE ?? `${service}-${process.pid}`;
const version = process.env.VERSION ?? 'v1';
const port = Number(process.env.PORT ?? 0);
const calls = (process.env.CALLS ?? '').split(',').filter(Boolean);
const outbound = process.env.WEFT_OUTBOUND ? new URL(process.env.WEFT_OUTBOUND) : undefined;
const agent = new http.Agent({ keepAlive: true });

// Like any app in Istio, this one copies the request's id and trace context to the calls it
// makes on the request's behalf: the mesh cannot tie an outgoing call to the incoming request
// that caused it, so without these headers each hop would start a trace of its own.
const PROPAGATED_HEADERS = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
];

function propagatedHeaders(incoming) {
  const out = {};
  for (const name of PROPAGATED_HEADERS) {
    const v = incoming[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function callService(name, path, propagated) {
  return new Promise((resolve) => {
    if (!outbound) return resolve({ error: 'WEFT_OUTBOUND is not set' });
    const req = http.request(
      {
        host: outbound.hostname,
        port: outbound.port,
        path,
        agent,
        // The Host header names the service; the sidecar resolves it through the mesh.
        headers: { ...propagated, host: name },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, ...JSON.parse(body) });
          } catch {
            resolve({ status: res.statusCode, error: body.trim() });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

const admin = process.env.SEED_ADMIN === '1';
const faults = { failStatus: 0, failUntil: 0, delayMs: 0, delayUntil: 0 };

function handleAdmin(req, res) {
  const url = new URL(req.url, 'http://x');
  const num = (name, def) => {
    const v = Number(url.searchParams.get(name) ?? def);
    return Number.isFinite(v) && v >= 0 ? v : def;
  };
  if (req.method === 'POST' && url.pathname === '/admin/fail') {
    faults.failStatus = num('status', 503);
    faults.failUntil = Date.now() + num('for', 5000);
  } else if (req.method === 'POST' && url.pathname === '/admin/delay') {
    faults.delayMs = num('ms', 2000);
    faults.delayUntil = Date.now() + num('for', 10000);
  } else if (req.method === 'POST' && url.pathname === '/admin/reset') {
    faults.failUntil = 0;
    faults.delayUntil = 0;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(faults));
}

const server = http.createServer(async (req, res) => {
  if (admin && req.url.startsWith('/admin/')) return handleAdmin(req, res);
  if (Date.now() < faults.delayUntil) await new Promise((r) => setTimeout(r, faults.delayMs));
  if (Date.now() < faults.failUntil) {
    res.writeHead(faults.failStatus, { 'content-type': 'text/plain' });
    res.end(`${instance} is failing on purpose (SEED_ADMIN fault hook)\n`);
    return;
  }
  const body = { service, instance, version, method: req.method, path: req.url };
  if (calls.length > 0 && req.url !== '/healthz') {
    const propagated = propagatedHeaders(req.headers);
    const results = await Promise.all(calls.map((c) => callService(c, `/${c}`, propagated)));
    calls.forEach((c, i) => (body[c] = results[i]));
  }
  const text = JSON.stringify(body);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', service, instance, port: server.address().port })}\n`,
  );
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
