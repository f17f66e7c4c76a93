// A minimal OTLP/HTTP trace receiver for tests, on 127.0.0.1 port 0. It decodes what it gets
// with OpenTelemetry's own protobuf definitions: the protobufjs code generated from
// opentelemetry-proto that @opentelemetry/otlp-transformer shipped up to 0.216 (installed as
// the `otlp-proto-decoder` alias; later versions encode by hand and carry no decoder). So the
// proxy's encoder (OpenTelemetry's hand-written one) is checked against the .proto schema.

import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Decoder {
  decode(buf: Uint8Array): unknown;
}
// The generated module is CommonJS and typed only as a protobufjs Root.
const root = require('otlp-proto-decoder/build/src/generated/root.js') as {
  opentelemetry: {
    proto: {
      collector: {
        trace: {
          v1: {
            ExportTraceServiceRequest: Decoder;
            ExportTraceServiceResponse: { encode(m: object): { finish(): Uint8Array } };
          };
        };
      };
    };
  };
};
const v1 = root.opentelemetry.proto.collector.trace.v1;

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toString(): string };
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface WireSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array | null;
  name: string;
  kind: number;
  attributes: KeyValue[];
  startTimeUnixNano: { toString(): string } | number;
  endTimeUnixNano: { toString(): string } | number;
  status?: { code?: number };
}
interface WireRequest {
  resourceSpans: {
    resource?: { attributes: KeyValue[] };
    scopeSpans: { scope?: { name: string }; spans: WireSpan[] }[];
  }[];
}

/** One span as received, ids in hex, attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's SpanKind: 2 SERVER, 3 CLIENT. */
  kind: number;
  service: string;
  scope: string | undefined;
  attributes: Record<string, string | number | boolean>;
  startNs: bigint;
  endNs: bigint;
  statusCode: number;
}

export const OTLP_KIND_SERVER = 2;
export const OTLP_KIND_CLIENT = 3;

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Requests that were not protobuf OTLP traces (wrong path or content type, undecodable). */
  rejected: string[];
  /** Resolves once `predicate` holds for the spans received (checked on each arrival). */
  waitFor(
    what: string,
    predicate: (spans: ReceivedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  close(): Promise<void>;
}

function value(v: AnyValue | undefined): string | number | boolean {
  if (v === undefined) return '';
  if (v.stringValue !== undefined && v.stringValue !== '') return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue) return true;
  if (v.intValue !== undefined && v.intValue !== 0) return Number(v.intValue.toString());
  if (v.doubleValue !== undefined && v.doubleValue !== 0) return v.doubleValue;
  return v.stringValue ?? '';
}

function attrs(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

// protobufjs leaves an absent bytes field empty or null.
const hex = (b: Uint8Array | null | undefined) =>
  b === undefined || b === null || b.length === 0 ? undefined : Buffer.from(b).toString('hex');

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const events = new EventEmitter();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces' || type !== 'application/x-protobuf') {
        rejected.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(415).end();
        return;
      }
      let decoded: WireRequest;
      try {
        decoded = v1.ExportTraceServiceRequest.decode(Buffer.concat(chunks)) as WireRequest;
      } catch (err) {
        rejected.push(`undecodable: ${(err as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      for (const rs of decoded.resourceSpans) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: hex(s.traceId)!,
              spanId: hex(s.spanId)!,
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              service: String(resource['service.name'] ?? ''),
              scope: ss.scope?.name,
              attributes: attrs(s.attributes),
              startNs: BigInt(s.startTimeUnixNano.toString()),
              endNs: BigInt(s.endTimeUnixNano.toString()),
              statusCode: s.status?.code ?? 0,
            });
          }
        }
      }
      const body = v1.ExportTraceServiceResponse.encode({}).finish();
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(body));
      events.emit('spans');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    rejected,
    waitFor(what, predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(spans)) return;
          clearTimeout(timer);
          events.off('spans', check);
          resolve();
        };
        const timer = setTimeout(() => {
          events.off('spans', check);
          reject(new Error(`timed out waiting for ${what}; received ${spans.length} spans`));
        }, timeoutMs);
        events.on('spans', check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
