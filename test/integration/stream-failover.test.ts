// A control plane that vanishes without closing its connections (a host gone, a network cut)
// sends no FIN and no RST: the proxy notices only because its pings go unanswered, and moves
// to the next replica. Here the first "replica" completes the WebSocket handshake and then
// never answers anything; the proxy must end up on the real one and receive its snapshot.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { connectSnapshotStream } from '@weft/proxy';
import type { Snapshot } from '@weft/model';

let cp: RunningControlPlane;
let dir: string;
let silent: Server;
const held: Socket[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-silent-'));
  cp = await startControlPlane({ dataDir: dir, port: 0 });
  silent = createServer();
  silent.on('upgrade', (req, socket: Socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    // From here on: read nothing, answer nothing, close nothing.
    held.push(socket);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
});
after(async () => {
  for (const s of held) s.destroy();
  silent.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'leaves a replica that stops answering pings for the next one',
  { timeout: 30_000 },
  async () => {
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const connected: string[] = [];
    let got: (s: Snapshot) => void = () => undefined;
    const applied = new Promise<Snapshot>((r) => (got = r));
    const client = connectSnapshotStream({
      control: [silentUrl, cp.url],
      node: { id: 'pinger.sidecar', role: 'sidecar', namespace: 'default', labels: {} },
      apply: (s) => got(s),
      version: () => undefined,
      log: () => undefined,
      // Start at the first URL: the silent one.
      random: () => 0,
      onConnected: (url) => connected.push(url),
    });
    try {
      const snapshot = await applied;
      assert.equal(typeof snapshot.version, 'number');
      assert.deepEqual(connected, [silentUrl, cp.url]);
      assert.equal(client.connectedTo(), cp.url);
    } finally {
      client.close();
    }
  },
);
