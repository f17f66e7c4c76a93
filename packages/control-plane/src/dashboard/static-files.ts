// Serves the dashboard's built files (packages/dashboard/dist) under /dashboard/. Only files
// inside that folder are ever read; anything unknown under /dashboard/ gets index.html, so a
// reload on a deep link (#-routes aside) still opens the app.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.ico': 'image/x-icon',
};

export async function serveDashboardFile(
  dir: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const raw = (req.url ?? '/').split('?')[0] ?? '/';
  let rel: string;
  try {
    rel = decodeURIComponent(raw.replace(/^\/dashboard\/?/, ''));
  } catch {
    rel = '';
  }
  const root = normalize(dir + sep);
  let file = normalize(join(root, rel));
  // A path that climbs out of the folder, or names no file, falls back to the app itself.
  if (!file.startsWith(root) || rel === '' || !(await isFile(file)))
    file = join(root, 'index.html');
  if (!(await isFile(file))) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`the dashboard is not built in ${dir}; run npm run build\n`);
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    // Vite's asset names carry a content hash; index.html must always be fresh.
    'cache-control': file.endsWith('index.html')
      ? 'no-cache'
      : 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
