// Bytes on the downstream wire per request, headers included (what Istio's istio_request_bytes
// and istio_response_bytes record). Node counts bytes per socket, not per request, so each
// request takes the difference since the previous request on the same keep-alive socket
// ended. Exact for one request at a time per connection (what HTTP/1.1 clients do); with
// pipelining, bytes are attributed to the request that ends first, and totals stay right.
// Called only when someone subscribes to the request-end channel.

import type { Socket } from 'node:net';
import type { RequestEndEvent } from './channels.js';

const kMark = Symbol('weft.wireBytes');

interface Mark {
  read: number;
  written: number;
}

type Marked = Socket & { [kMark]?: Mark };

export function measureWireBytes(event: RequestEndEvent, socket: Socket | null | undefined): void {
  if (socket == null) return;
  const s = socket as Marked;
  const read = s.bytesRead;
  const written = s.bytesWritten;
  const mark = s[kMark];
  if (mark === undefined) {
    event.requestBytes = read;
    event.responseBytes = written;
    s[kMark] = { read, written };
    return;
  }
  event.requestBytes = read - mark.read;
  event.responseBytes = written - mark.written;
  mark.read = read;
  mark.written = written;
}
