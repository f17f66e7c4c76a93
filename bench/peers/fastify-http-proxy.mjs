// Peer: fastify + @fastify/http-proxy. Upstream requests go through @fastify/reply-from's undici
// Pool, which keeps connections alive by default.
// Usage: node fastify-http-proxy.mjs <upstream-url>; prints {"event":"ready","port":N}.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const upstream = new URL(process.argv[2]).origin;
const app = Fastify({ logger: false, keepAliveTimeout: 120_000 });
await app.register(proxy, {
  upstream,
  undici: { connections: 256, pipelining: 1, keepAliveTimeout: 120_000 },
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ event: 'ready', port: app.server.address().port }) + '\n');

// Exit normally on SIGTERM (the harness stops us by PID), so that --cpu-prof can write its file.
process.on('SIGTERM', () => process.exit(0));
