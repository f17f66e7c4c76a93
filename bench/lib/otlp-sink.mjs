// An OTLP/HTTP sink for the telemetry benches: takes every export, answers 200, counts
// requests and bytes. It decodes nothing: what it costs is not the gateway's.

import { createServer } from 'node:http';

export async function startOtlpSink() {
  const seen = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (c) => (seen.bytes += c.length));
    req.on('end', () => {
      seen.requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, server };
}
