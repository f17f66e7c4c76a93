// The Node ceiling reference: the least a proxy on node:http can do — one upstream request per
// downstream request over a keep-alive Agent, headers copied as they are, bodies piped.
// No routing, no header hygiene, no timeouts: a real proxy does more, so it should not beat this.
// Usage: node node-passthrough.mjs <upstream-url>; prints {"event":"ready","port":N}.
import http from 'node:http';

const target = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const opts = {
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: req.headers,
    agent,
  };
  const up = http.request(opts, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: server.address().port }) + '\n');
});

// Exit normally on SIGTERM (the harness stops us by PID), so that --cpu-prof can write its file.
process.on('SIGTERM', () => process.exit(0));
