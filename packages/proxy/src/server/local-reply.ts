// Responses the proxy makes itself. They always say so: a response flag in `x-weft-error`,
// the proxy's id in `x-weft-proxy`, and a one-sentence plain-text body that ends with the
// flag and the stable WEFT_ERR_* code, so nobody mistakes them for the application's errors.

import type { ServerResponse } from 'node:http';
import { PROXY_ERROR_HEADER, PROXY_ID_HEADER } from '@weft/model';

/** Not in the model's ErrorCode yet: a bug in the proxy itself. */
export const INTERNAL_ERROR_CODE = 'WEFT_ERR_INTERNAL';

export function localReplyBody(
  proxyId: string,
  message: string,
  flag: string,
  code: string,
): string {
  return `weft ${proxyId}: ${message} (${flag}, ${code})\n`;
}

export function sendLocalReply(
  res: ServerResponse,
  proxyId: string,
  status: number,
  flag: string,
  code: string,
  message: string,
  /** More headers as `[name, value, ...]` (the route's CORS headers), or undefined. */
  extra?: readonly string[],
): void {
  if (res.headersSent) {
    // Too late for a status line: the only honest signal left is a reset.
    res.destroy();
    return;
  }
  const body = localReplyBody(proxyId, message, flag, code);
  const headers = [
    'content-type',
    'text/plain',
    'content-length',
    String(Buffer.byteLength(body)),
    PROXY_ERROR_HEADER,
    flag,
    PROXY_ID_HEADER,
    proxyId,
  ];
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
  res.writeHead(status, headers);
  res.end(body);
}

/** Quotes a request-controlled value for a message: escaped, and cut to a sane length. */
export function quote(value: string, max = 200): string {
  const v = value.length > max ? `${value.slice(0, max)}...` : value;
  return JSON.stringify(v);
}
