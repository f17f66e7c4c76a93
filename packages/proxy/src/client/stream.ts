// The proxy's end of the snapshot stream. It keeps the last good snapshot: a snapshot that
// fails to compile is NACKed and the old route table keeps serving, and when the control
// plane goes away the proxy keeps serving too, reconnecting with backoff and telling the
// control plane which version it runs so that nothing is resent needlessly.

import WebSocket from 'ws';
import type { ControlMessage, ProxyMessage, ProxyNode, Snapshot } from '@weft/model';

export interface StreamClientOptions {
  /** Control plane base URL, e.g. http://127.0.0.1:15010 */
  control: string;
  node: ProxyNode;
  /** Compiles and swaps in a snapshot; throws to NACK it. */
  apply(snapshot: Snapshot): void;
  version(): number | undefined;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  random?: () => number;
  /** Called once per applied version (tests and `--wait` style readiness). */
  onApplied?: (version: number) => void;
}

export interface StreamClient {
  /** Resolves once the first snapshot is applied. */
  ready: Promise<void>;
  close(): void;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

export function connectSnapshotStream(opts: StreamClientOptions): StreamClient {
  const random = opts.random ?? Math.random;
  let ws: WebSocket | undefined;
  let closed = false;
  let backoff = MIN_BACKOFF_MS;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  const url = `${opts.control.replace(/^http/, 'ws').replace(/\/$/, '')}/v1/stream`;

  const send = (m: ProxyMessage) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  };

  const connect = () => {
    if (closed) return;
    const sock = new WebSocket(url, { handshakeTimeout: 5_000, maxPayload: 256 << 20 });
    ws = sock;
    sock.on('open', () => {
      backoff = MIN_BACKOFF_MS;
      const version = opts.version();
      send({ type: 'hello', node: opts.node, ...(version !== undefined ? { version } : {}) });
      opts.log('info', 'connected to control plane', { url, version });
    });
    sock.on('message', (data) => {
      let msg: ControlMessage;
      try {
        msg = JSON.parse(data.toString()) as ControlMessage;
      } catch {
        opts.log('warn', 'ignoring a stream message that is not JSON');
        return;
      }
      if (msg.type !== 'snapshot') return;
      try {
        opts.apply(msg.snapshot);
        send({ type: 'ack', version: msg.version });
        opts.onApplied?.(msg.version);
        markReady();
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        opts.log('error', 'rejected snapshot; keeping the last good one', {
          version: msg.version,
          error,
        });
        send({ type: 'nack', version: msg.version, error });
      }
    });
    sock.on('close', () => {
      if (closed) return;
      // Jittered exponential backoff, so a restarted control plane is not hit by every proxy at once.
      const wait = backoff * (0.5 + random());
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      timer = setTimeout(connect, wait);
      timer.unref();
    });
    sock.on('error', (err) => {
      opts.log('warn', 'control plane stream error', { error: err.message });
    });
  };

  connect();
  return {
    ready,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.terminate();
    },
  };
}
