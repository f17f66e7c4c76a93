// Trace and span ids: random hex from a pooled buffer, refilled from the system's CSPRNG a few
// KB at a time, so one id costs a slice of a string rather than a system call.

import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function take(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    // All zeros is invalid in W3C and B3; one chance in 2^64 (or 2^128), drawn again. A
    // comparison, not a regular expression: this runs for every request tracing sees.
    if (id !== (bytes === 16 ? ZERO_TRACE : ZERO_SPAN)) return id;
  }
}

/** 16 random bytes as 32 hex digits. */
export function newTraceId(): string {
  return take(16);
}

/** 8 random bytes as 16 hex digits. */
export function newSpanId(): string {
  return take(8);
}
