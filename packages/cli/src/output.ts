import Table from 'cli-table3';
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseFormat(v: string): OutputFormat {
  if (v === 'table' || v === 'json' || v === 'yaml') return v;
  throw new Error(`unknown output format "${v}"; use table, json or yaml`);
}

/** kubectl-style table: upper-case headers, no borders, columns padded. */
export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head: head.map((h) => h.toUpperCase()),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '   ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push(r.map(String));
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

export function print(format: OutputFormat, data: unknown, asTable: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(`${asTable()}\n`);
}
