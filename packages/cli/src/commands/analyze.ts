// `weft analyze -f FILE|DIR`: what an apply would say, offline, with no control plane: every
// validation error, what the proxies' compile step would reject, and references that nothing
// in the files satisfies (which may still be satisfied later, so they are warnings).

import { formatViolation, type Violation } from '@weft/model';
import { readInputs } from './config.js';

export async function analyzeCommand(files: string[]): Promise<number> {
  const inputs = readInputs(files);
  // Loaded on use, like the other commands that need the heavy packages.
  const [{ analyzeSources }, { checkSnapshot }] = await Promise.all([
    import('@weft/control-plane'),
    import('@weft/proxy'),
  ]);
  let compileWarnings: string[] = [];
  const result = analyzeSources(
    inputs.map((i) => ({ path: i.path, text: i.content })),
    {
      admit: (snapshot) => {
        compileWarnings = checkSnapshot(snapshot).warnings;
      },
    },
  );
  const violations: Violation[] = [
    ...result.violations,
    ...compileWarnings.map((w): Violation => ({
      severity: 'warning',
      field: '',
      message: `proxy compile: ${w}`,
    })),
  ];
  const fileOrder = new Map(inputs.map((i, n) => [i.path, n]));
  const rank = (v: Violation) =>
    v.position
      ? [fileOrder.get(v.position.file) ?? inputs.length, v.position.line, v.position.col]
      : [inputs.length + 1, 0, 0];
  // Read top to bottom, file by file, like the files; unpositioned ones last.
  const sorted = violations
    .map((v, n) => ({ v, n, r: rank(v) }))
    .sort((a, b) => a.r[0]! - b.r[0]! || a.r[1]! - b.r[1]! || a.r[2]! - b.r[2]! || a.n - b.n)
    .map((x) => x.v);
  for (const v of sorted) process.stdout.write(`${formatViolation(v)}\n`);
  const errors = sorted.filter((v) => v.severity === 'error').length;
  const warnings = sorted.length - errors;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  process.stdout.write(
    `${errors > 0 ? 'FAIL' : 'ok'}: ${plural(inputs.length, 'file')}, ${plural(result.resources.length, 'resource')}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`,
  );
  return errors > 0 ? 1 : 0;
}
