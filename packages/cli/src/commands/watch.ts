// `weft get instances -w`: follows the control plane's instance watch (ND-JSON over HTTP,
// GET /v1/instances?watch=true) and prints one line per change until interrupted, as
// `kubectl get -w` does: first every current instance, then ADDED / MODIFIED / DELETED.

import type { Instance } from '@weft/model';
import type { Api } from '../api-client.js';
import { ApiError } from '../api-client.js';
import type { OutputFormat } from '../output.js';
import { INSTANCE_COLUMNS, instanceRow } from './config.js';

interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object?: Instance;
}

/** Column widths of the streamed table: rows arrive one by one, so widths cannot be measured. */
const WIDTHS = [10, 12, 8, 14, 22, 7];

export async function watchInstancesCommand(
  api: Api,
  service: string | undefined,
  format: OutputFormat,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  signal?: AbortSignal,
): Promise<number> {
  const q = service ? `&service=${encodeURIComponent(service)}` : '';
  let res: Awaited<ReturnType<Api['fetch']>>;
  try {
    res = await api.fetch(`/v1/instances?watch=true${q}`, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted) return 0;
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ApiError(
      0,
      'WEFT_ERR_CONTROL_UNREACHABLE',
      `cannot reach the control plane at ${api.base} (${cause})`,
      undefined,
    );
  }
  if (!res.ok || !res.body)
    throw new ApiError(res.status, 'WEFT_ERR_API', `watch failed: HTTP ${res.status}`, undefined);
  const cols = ['event', ...INSTANCE_COLUMNS];
  if (format === 'table') out(row(cols.map((c) => c.toUpperCase())));
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (text.trim() === '') continue;
        const line = JSON.parse(text) as WatchLine;
        if (line.type === 'BOOKMARK' || !line.object) continue;
        if (format === 'table') out(row([line.type, ...instanceRow(line.object)]));
        else out(JSON.stringify(line));
      }
    }
  } catch (err) {
    if (signal?.aborted) return 0;
    throw err;
  }
  // The control plane went away: say so, as kubectl does when its watch ends.
  process.stderr.write('weft: the watch ended (the control plane closed the stream)\n');
  return 1;
}

function row(cells: string[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(WIDTHS[i] ?? 10)))
    .join('   ')
    .trimEnd();
}
