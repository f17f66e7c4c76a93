// The Node backend: answers every request with the same 1 KB body, keep-alive. Used when nginx is
// not installed (nginx as backend costs less CPU on the load core; see gateway-overhead.mjs).
// Prints {"event":"ready","port":N} once listening.
import http from 'node:http';
import { BODY } from '../lib/body.mjs';

const body = Buffer.from(BODY);
const server = http.createServer((req, res) => {
  // Drain any request body so the connection can be reused.
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
// Longer than any pause between rounds, so proxies' pooled upstream connections stay open.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(
    JSON.stringify({ event: 'ready', role: 'backend', port: server.address().port }) + '\n',
  );
});

// Exit normally on SIGTERM (the harness stops us by PID), so that --cpu-prof can write its file.
process.on('SIGTERM', () => process.exit(0));
