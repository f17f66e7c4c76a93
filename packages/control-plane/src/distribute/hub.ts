// The push side of the snapshot stream. Each proxy holds one WebSocket; the hub sends it the
// current snapshot on hello (unless the proxy already runs that version, e.g. after a control
// plane restart) and every newer one after, and records what each proxy ACKed or NACKed so
// `weft proxy-status` can tell who runs what.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ControlMessage, ProxyMessage, ProxyStatus, Snapshot } from '@weft/model';
import type { Logger } from '../log.js';

interface Conn {
  ws: WebSocket;
  status?: ProxyStatus;
}

const MAX_MESSAGE_BYTES = 1 << 20;

export class SnapshotHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly conns = new Set<Conn>();
  private latest: { snapshot: Snapshot; json: string } | undefined;
  private readonly ackWaiters = new Set<() => void>();

  constructor(private readonly log: Logger) {}

  publish(snapshot: Snapshot): void {
    if (this.latest && this.latest.snapshot.version >= snapshot.version) return;
    // Serialise once per version, not once per proxy.
    const msg: ControlMessage = { type: 'snapshot', version: snapshot.version, snapshot };
    this.latest = { snapshot, json: JSON.stringify(msg) };
    for (const c of this.conns) if (c.status) this.send(c);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  statuses(): ProxyStatus[] {
    return [...this.conns]
      .map((c) => c.status)
      .filter((s): s is ProxyStatus => s !== undefined)
      .sort((a, b) => a.node.id.localeCompare(b.node.id));
  }

  /** Resolves on the next ACK or NACK from any proxy, or a disconnect (for `apply --wait`). */
  nextAck(): Promise<void> {
    return new Promise((resolve) => this.ackWaiters.add(resolve));
  }

  close(): void {
    for (const c of this.conns) c.ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const conn: Conn = { ws };
    this.conns.add(conn);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.reject(conn, 'binary frames are not part of the protocol');
      let msg: ProxyMessage;
      try {
        msg = JSON.parse(data.toString()) as ProxyMessage;
      } catch {
        return this.reject(conn, 'message is not JSON');
      }
      this.onMessage(conn, msg);
    });
    ws.on('close', () => {
      this.conns.delete(conn);
      if (conn.status) this.log.info({ proxy: conn.status.node.id }, 'proxy disconnected');
      // A proxy that left is no longer waited for.
      this.wakeAckWaiters();
    });
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'proxy stream error'));
  }

  private onMessage(conn: Conn, msg: ProxyMessage): void {
    switch (msg?.type) {
      case 'hello': {
        const n = msg.node;
        if (!n || typeof n.id !== 'string' || (n.role !== 'gateway' && n.role !== 'sidecar'))
          return this.reject(conn, 'hello needs node.id and node.role (gateway or sidecar)');
        conn.status = {
          node: {
            id: n.id,
            role: n.role,
            namespace: n.namespace ?? 'default',
            labels: n.labels ?? {},
            ...(n.service ? { service: n.service } : {}),
          },
          connectedAt: new Date().toISOString(),
          ...(typeof msg.version === 'number' ? { ackedVersion: msg.version } : {}),
        };
        this.log.info({ proxy: n.id, role: n.role, version: msg.version }, 'proxy connected');
        if (this.latest && msg.version !== this.latest.snapshot.version) this.send(conn);
        else if (this.latest) conn.status.sentVersion = this.latest.snapshot.version;
        return;
      }
      case 'ack':
      case 'nack': {
        if (!conn.status) return this.reject(conn, 'send hello first');
        if (msg.type === 'ack') {
          conn.status.ackedVersion = msg.version;
          delete conn.status.nack;
        } else {
          conn.status.nack = { version: msg.version, error: String(msg.error) };
          this.log.error(
            { proxy: conn.status.node.id, version: msg.version, error: msg.error },
            'proxy rejected snapshot',
          );
        }
        this.wakeAckWaiters();
        return;
      }
      default:
        return this.reject(conn, 'unknown message type');
    }
  }

  private wakeAckWaiters(): void {
    const waiters = [...this.ackWaiters];
    this.ackWaiters.clear();
    for (const w of waiters) w();
  }

  private send(conn: Conn): void {
    if (!this.latest || !conn.status) return;
    conn.status.sentVersion = this.latest.snapshot.version;
    conn.ws.send(this.latest.json);
  }

  private reject(conn: Conn, why: string): void {
    this.log.warn({ why }, 'closing proxy stream: protocol error');
    conn.ws.close(1008, why.slice(0, 120));
  }
}
