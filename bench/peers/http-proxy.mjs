// Peer: node:http server + the `http-proxy` library, upstream over a keep-alive Agent
// (without an agent http-proxy sends `Connection: close` upstream).
// Usage: node http-proxy.mjs <upstream-url>; prints {"event":"ready","port":N}.
import http from 'node:http';
import httpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: process.argv[2], agent });
proxy.on('error', (_err, _req, res) => {
  if (res.writeHead && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: server.address().port }) + '\n');
});

// Exit normally on SIGTERM (the harness stops us by PID), so that --cpu-prof can write its file.
process.on('SIGTERM', () => process.exit(0));
