// The push side of the snapshot stream. Each proxy holds one WebSocket; the hub sends it the
// current snapshot on hello and every newer one after, and records what each proxy ACKed or
// NACKed so `weft proxy-status` can tell who runs what.
//
// Resuming: a proxy says in its hello which version it runs. Versions are store revisions and
// translate is pure, so every replica on one store builds the same snapshot for a version: a
// proxy that moves to another replica is sent nothing when it already runs that replica's
// latest version, a delta when the replica still holds the proxy's version in its history,
// and the whole snapshot only otherwise. Later pushes are deltas from what the proxy runs.
// Messages are serialised once per (scope, base, version), not once per proxy.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  diffSnapshots,
  type ControlMessage,
  type ProxyMessage,
  type ProxyStatus,
  type Snapshot,
} from '@weft/model';
import type { Logger } from '../log.js';
import type { HubObserver } from '../metrics/metrics.js';
import { scopeOf, scopeSnapshot, WHOLE_MESH, type Scope } from './scope.js';

interface Conn {
  ws: WebSocket;
  status?: ProxyStatus;
  scope: Scope;
  /** Whether the proxy said it applies deltas. */
  deltas: boolean;
  /** The version the proxy runs once it applied everything sent to it (undefined: none). */
  base?: number;
  /** Rescoped since the last ACK: the ACKed version was a view in another scope. */
  rescoped?: boolean;
  /** The token the stream was opened with (a locked control plane). */
  caller?: StreamCaller | undefined;
}

/** Who opened a stream: an admin token, or a bootstrap token scoped to one service. */
export type StreamCaller =
  | { kind: 'admin'; tokenId: string }
  | { kind: 'bootstrap'; tokenId: string; service: string; namespace: string };

export interface HubOptions {
  /** Versions kept to make deltas from. Default 64. */
  history?: number;
  /** Shown in proxy-status as the replica a proxy is connected to. */
  replica?: string;
  /** Told about pushes and answers (control-plane metrics). */
  observer?: HubObserver;
}

const MAX_MESSAGE_BYTES = 1 << 20;

export class SnapshotHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly conns = new Set<Conn>();
  /** Recent snapshots by version, oldest first (Map keeps insertion order). */
  private readonly history = new Map<number, Snapshot>();
  private latest: Snapshot | undefined;
  /**
   * Serialised messages and scoped views of recent versions: `${scope}|${base}|${version}`.
   * Encoded once as UTF-8: sent to 50 proxies, a string would be encoded 50 times.
   */
  private readonly messages = new Map<string, Buffer>();
  private readonly views = new Map<string, Snapshot>();
  private readonly ackWaiters = new Set<() => void>();
  private readonly historySize: number;

  constructor(
    private readonly log: Logger,
    private readonly opts: HubOptions = {},
  ) {
    this.historySize = opts.history ?? 64;
  }

  /** `changedAt`: when the store change this snapshot was built from was seen (metrics). */
  publish(snapshot: Snapshot, changedAt?: number): void {
    if (this.latest && this.latest.version >= snapshot.version) return;
    this.opts.observer?.published(snapshot.version, changedAt ?? Date.now());
    this.latest = snapshot;
    this.history.set(snapshot.version, snapshot);
    for (const v of this.history.keys()) {
      if (this.history.size <= this.historySize) break;
      this.history.delete(v);
    }
    // Messages built for earlier targets are not sent again.
    this.messages.clear();
    for (const key of this.views.keys())
      if (!this.history.has(Number(key.slice(key.lastIndexOf('|') + 1)))) this.views.delete(key);
    for (const c of this.conns) if (c.status) this.send(c);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, caller?: StreamCaller): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, caller));
  }

  /** Closes every stream opened with this token (it was revoked, or expired). */
  closeToken(tokenId: string, why = 'token revoked'): void {
    for (const c of this.conns) if (c.caller?.tokenId === tokenId) c.ws.close(1008, why);
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

  private accept(ws: WebSocket, caller: StreamCaller | undefined): void {
    const conn: Conn = { ws, scope: WHOLE_MESH, deltas: false, caller };
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
        const namespace = n.namespace ?? 'default';
        const c = conn.caller;
        // A bootstrap token speaks for one service: its sidecars may not pose as another's.
        if (
          c?.kind === 'bootstrap' &&
          (namespace !== c.namespace ||
            (n.service !== undefined && n.service !== c.service) ||
            (n.role === 'sidecar' && n.service === undefined))
        )
          return this.reject(
            conn,
            `token ${c.tokenId} speaks for ${c.namespace}/${c.service} only (WEFT_ERR_AUTH_WRONG_SERVICE)`,
          );
        conn.scope = scopeOf(msg.scope?.upstreams, namespace);
        conn.deltas = msg.deltas === true;
        const version = typeof msg.version === 'number' ? msg.version : undefined;
        conn.status = {
          node: {
            id: n.id,
            role: n.role,
            namespace,
            labels: n.labels ?? {},
            ...(n.service ? { service: n.service } : {}),
            ...(isHostPort(n.adminAddress) ? { adminAddress: n.adminAddress } : {}),
          },
          connectedAt: new Date().toISOString(),
          ...(version !== undefined ? { ackedVersion: version } : {}),
          ...(conn.scope.hosts ? { upstreams: [...conn.scope.hosts] } : {}),
          pushes: { full: 0, delta: 0 },
          ...(this.opts.replica ? { replica: this.opts.replica } : {}),
        };
        if (version !== undefined) conn.base = version;
        this.log.info({ proxy: n.id, role: n.role, version }, 'proxy connected');
        this.send(conn);
        return;
      }
      case 'ack':
      case 'nack': {
        if (!conn.status) return this.reject(conn, 'send hello first');
        if (msg.type === 'ack') {
          if (conn.status.ackedVersion !== msg.version)
            this.opts.observer?.acked(msg.version, conn.status.node.role);
          conn.status.ackedVersion = msg.version;
          delete conn.status.nack;
          if (msg.version === conn.base) delete conn.rescoped;
        } else {
          conn.status.nack = { version: msg.version, error: String(msg.error) };
          this.opts.observer?.nacked(conn.status.node.role);
          // The proxy kept its last good snapshot: the next push is made from that one.
          // After a rescope that version is a view in the old scope: no delta applies to it.
          if (conn.rescoped) delete conn.base;
          else conn.base = conn.status.ackedVersion;
          this.log.error(
            { proxy: conn.status.node.id, version: msg.version, error: msg.error },
            'proxy rejected snapshot',
          );
        }
        this.wakeAckWaiters();
        return;
      }
      case 'scope': {
        if (!conn.status) return this.reject(conn, 'send hello first');
        if (!Array.isArray(msg.upstreams) || !Number.isInteger(msg.seq))
          return this.reject(conn, 'scope needs upstreams (a list) and seq (an integer)');
        this.rescope(conn, msg.upstreams, msg.seq);
        return;
      }
      case 'resync': {
        if (!conn.status) return this.reject(conn, 'send hello first');
        delete conn.base;
        this.send(conn);
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
    const target = this.latest;
    if (!target || !conn.status) return;
    const base = conn.base;
    // Never move a proxy backwards: a replica that lags behind the one the proxy came from
    // sends nothing until it has caught up.
    if (base !== undefined && base >= target.version) {
      conn.status.sentVersion = base;
      return;
    }
    const delta = conn.deltas && base !== undefined && this.history.has(base);
    const from = delta ? base : -1;
    const key = `${conn.scope.key}|${from}|${target.version}`;
    let wire = this.messages.get(key);
    if (wire === undefined) {
      const next = this.view(conn.scope, target);
      const msg: ControlMessage =
        from >= 0
          ? {
              type: 'delta',
              version: target.version,
              delta: diffSnapshots(this.view(conn.scope, this.history.get(from) as Snapshot), next),
            }
          : { type: 'snapshot', version: target.version, snapshot: next };
      wire = Buffer.from(JSON.stringify(msg));
      this.messages.set(key, wire);
    }
    this.deliver(conn, conn.status, target.version, delta, wire);
  }

  /** Sends one message and records it: the proxy's base, sent version and push counts. */
  private deliver(
    conn: Conn,
    status: ProxyStatus,
    version: number,
    delta: boolean,
    wire: Buffer | string,
  ): void {
    conn.base = version;
    status.sentVersion = version;
    if (status.pushes) status.pushes[delta ? 'delta' : 'full']++;
    conn.ws.send(wire, { binary: false });
    this.opts.observer?.pushed(status.node.role);
  }

  /**
   * A sidecar widened its scope (learned from its app's traffic). It is sent, at once, the
   * current version in the new scope: a delta from what it runs in the old one, or the whole
   * view. The answer carries `scopeSeq`, so the sidecar knows which held requests to retry.
   * Later pushes are made in the new scope as for any proxy.
   */
  private rescope(conn: Conn, upstreams: unknown[], seq: number): void {
    const status = conn.status as ProxyStatus;
    const before = conn.scope;
    conn.scope = scopeOf(upstreams, status.node.namespace);
    conn.rescoped = true;
    if (conn.scope.hosts) status.upstreams = [...conn.scope.hosts];
    const target = this.latest;
    const base = conn.base;
    if (!target || (base !== undefined && base > target.version)) {
      // Nothing to answer with yet (or this replica lags): the next push is whole, in the new scope.
      delete conn.base;
      return;
    }
    const next = this.view(conn.scope, target);
    const from = base !== undefined && conn.deltas ? this.history.get(base) : undefined;
    const msg: ControlMessage =
      from !== undefined
        ? {
            type: 'delta',
            version: target.version,
            delta: diffSnapshots(this.view(before, from), next),
            scopeSeq: seq,
          }
        : { type: 'snapshot', version: target.version, snapshot: next, scopeSeq: seq };
    this.deliver(conn, status, target.version, from !== undefined, JSON.stringify(msg));
  }

  private view(scope: Scope, snapshot: Snapshot): Snapshot {
    if (scope.hosts === undefined) return snapshot;
    const key = `${scope.key}|${snapshot.version}`;
    let v = this.views.get(key);
    if (v === undefined) {
      v = scopeSnapshot(snapshot, scope);
      this.views.set(key, v);
    }
    return v;
  }

  private reject(conn: Conn, why: string): void {
    this.log.warn({ why }, 'closing proxy stream: protocol error');
    conn.ws.close(1008, why.slice(0, 120));
  }
}

/** An admin address goes into Prometheus's targets: only a plain `host:port` is kept. */
function isHostPort(v: unknown): v is string {
  return (
    typeof v === 'string' && v.length <= 260 && /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/.test(v)
  );
}
