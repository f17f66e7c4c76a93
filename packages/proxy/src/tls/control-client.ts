// How a proxy talks to a locked control plane: HTTPS that trusts the mesh root (the API's
// certificate is issued by the mesh CA, not a public one) and a bearer token that says which
// service the proxy is. Used for registration, heartbeats and certificate requests; the
// snapshot stream passes the same credentials to its WebSocket.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ControlCredentials {
  /** PEM of the root that signed the control plane's certificate (WEFT_CA). */
  ca?: string | undefined;
  /** Bootstrap token for this proxy's service, or an admin token (WEFT_TOKEN). */
  token?: string | undefined;
}

export interface ControlResponse {
  status: number;
  body: unknown;
}

const MAX_RESPONSE_BYTES = 4 << 20;

/** Headers every call to the control plane carries. */
export function authHeaders(creds: ControlCredentials | undefined): Record<string, string> {
  return creds?.token ? { authorization: `Bearer ${creds.token}` } : {};
}

export function controlRequest(
  base: string,
  creds: ControlCredentials | undefined,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<ControlResponse> {
  const url = new URL(`${base.replace(/\/$/, '')}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { ...authHeaders(creds) };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      { method, headers, timeout: timeoutMs, ...(https && creds?.ca ? { ca: creds.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: text ? (JSON.parse(text) as unknown) : undefined,
            });
          } catch {
            reject(
              new Error(
                `the control plane answered ${res.statusCode} with a body that is not JSON`,
              ),
            );
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
