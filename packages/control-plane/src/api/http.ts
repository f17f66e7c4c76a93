// Small helpers for the JSON API: bounded body reads and uniform error bodies. Every error
// the API returns has the same shape, { error: { code, message, ... } }, so the CLI and the
// dashboard show them the same way.

import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.details } });
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json'))
    throw new HttpError(
      415,
      'WEFT_ERR_UNSUPPORTED_MEDIA_TYPE',
      'send the body as application/json',
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw new HttpError(
        413,
        'WEFT_ERR_BODY_TOO_LARGE',
        `request body is larger than ${limit} bytes`,
      );
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(
      400,
      'WEFT_ERR_BAD_JSON',
      `request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}
