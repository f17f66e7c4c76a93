// Istio writes durations the way Go's time.ParseDuration reads them (`7s`, `0.5s`, `1m30s`,
// `24h`), not only protobuf JSON's `<seconds>s`: the samples use `5m` and `24h`.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5, as Go accepts it.
  μs: 1e-3, // U+03BC, as Go accepts it.
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// Longer units first so that `ms` is not read as `m` followed by a stray `s`.
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Milliseconds in a duration string such as `1s`, `0.5s`, `100ms`, `1m30s` or `24h`, or
 * `undefined` when the string is not a valid non-negative duration. `0` needs no unit.
 */
export function parseDurationMs(s: string): number | undefined {
  if (typeof s !== 'string') return undefined;
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return undefined;
    const [, amount, unit] = m;
    if (amount === undefined || unit === undefined) return undefined;
    total += Number.parseFloat(amount) * (UNIT_MS[unit] ?? Number.NaN);
    pos = PART.lastIndex;
  }
  if (!Number.isFinite(total)) return undefined;
  // Six decimals keep nanoseconds and hide float noise such as 0.1 * 1000 = 100.00000000000001.
  return Math.round(total * 1e6) / 1e6;
}
