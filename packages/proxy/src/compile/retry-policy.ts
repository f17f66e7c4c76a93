// Istio retries -> the flags the upstream code checks per response (istio-semantics 1.7).
// Conditions are Envoy's retry_on names; bare numbers are status codes.

import type { RetryPolicy } from '@weft/model';
import { CompileError } from '../routing/compile-error.js';
import type { CompiledRetryPolicy } from './types.js';

const GRPC_CODES: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

// Known to Envoy and accepted by Istio's validation, but meaningless for HTTP/1.1 upstreams
// (refused-stream is an HTTP/2 stream error; nothing here produces it) or rate-limit filters
// Weft does not have; accepted so that valid Istio config compiles.
const ACCEPTED_NOOP = new Set([
  'refused-stream',
  'envoy-ratelimited',
  'http3-post-connect-failure',
]);

/** Methods that can do no harm if sent twice (RFC 9110 section 9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/**
 * Weft's default when a route sets no `retries`, or sets `attempts` without `retryOn`
 * (docs/reliability.md): 2 retries of what cannot do harm twice. Connection failures (the
 * request was never sent) for every method; for idempotent methods also resets, refused
 * streams and 503s. A POST that reached the application is never retried unless a route says
 * so. Istio's default also retries gRPC unavailable/cancelled, which would repeat POSTs.
 */
export const WEFT_DEFAULT_RETRY: RetryPolicy = {
  attempts: 2,
  retryOn: ['connect-failure'],
  retriableStatusCodes: [],
};
const WEFT_DEFAULT_IDEMPOTENT_RETRY_ON = ['connect-failure', 'reset', 'refused-stream', '503'];

/** @deprecated name kept for callers; the default is Weft's (see WEFT_DEFAULT_RETRY). */
export const ISTIO_DEFAULT_RETRY = WEFT_DEFAULT_RETRY;

export const BACKOFF_BASE_MS = 25;

/** The policy a request of this method follows: the default one differs for idempotent ones. */
export function retryPolicyFor(p: CompiledRetryPolicy, method: string): CompiledRetryPolicy {
  return p.idempotent !== undefined && IDEMPOTENT_METHODS.has(method) ? p.idempotent : p;
}

export function compileRetryPolicy(policy: RetryPolicy | undefined): CompiledRetryPolicy {
  const p = policy ?? WEFT_DEFAULT_RETRY;
  if (typeof p !== 'object' || p === null) throw new CompileError('', 'must be an object');
  // `attempts` set with no retryOn (or no policy at all) takes Weft's default conditions,
  // which depend on the method: compile both variants now, pick per request.
  const defaults = policy === undefined || p.retryOn === undefined || p.retryOn.length === 0;
  const compiled = compileConditions(p, defaults ? WEFT_DEFAULT_RETRY.retryOn : p.retryOn);
  if (!defaults || compiled.retries === 0) return compiled;
  return {
    ...compiled,
    idempotent: compileConditions(p, WEFT_DEFAULT_IDEMPOTENT_RETRY_ON),
  };
}

function compileConditions(p: RetryPolicy, conditions: readonly string[]): CompiledRetryPolicy {
  const attempts = p.attempts ?? 0;
  if (typeof attempts !== 'number' || !Number.isFinite(attempts)) {
    throw new CompileError('attempts', 'must be a number');
  }
  const perTry = p.perTryTimeoutMs ?? 0;
  if (typeof perTry !== 'number' || !(perTry >= 0)) {
    throw new CompileError('perTryTimeoutMs', 'must be a non-negative number');
  }
  const backoff = p.backoffBaseMs ?? BACKOFF_BASE_MS;
  if (typeof backoff !== 'number' || !(backoff > 0)) {
    throw new CompileError('backoffBaseMs', 'must be a number > 0');
  }
  const flags = {
    connectFailure: false,
    reset: false,
    any5xx: false,
    gatewayError: false,
    retriable4xx: false,
    retriableHeaders: false,
  };
  let statusCodesOn = false;
  const codes = new Set<number>();
  const grpc = new Set<number>();
  for (const [i, raw] of conditions.entries()) {
    if (typeof raw !== 'string') throw new CompileError(`retryOn[${i}]`, 'must be a string');
    const c = raw.trim();
    if (/^\d{3}$/.test(c)) {
      statusCodesOn = true;
      codes.add(Number(c));
      continue;
    }
    switch (c) {
      case 'connect-failure':
      case 'reset-before-request':
        flags.connectFailure = true;
        break;
      case 'reset':
        flags.reset = true;
        flags.connectFailure = true;
        break;
      case '5xx':
        flags.any5xx = true;
        flags.reset = true;
        flags.connectFailure = true;
        break;
      case 'gateway-error':
        flags.gatewayError = true;
        flags.reset = true;
        flags.connectFailure = true;
        break;
      case 'retriable-4xx':
        flags.retriable4xx = true;
        break;
      case 'retriable-status-codes':
        statusCodesOn = true;
        break;
      case 'retriable-headers':
        flags.retriableHeaders = true;
        break;
      default:
        if (c in GRPC_CODES) grpc.add(GRPC_CODES[c]!);
        else if (!ACCEPTED_NOOP.has(c)) {
          throw new CompileError(`retryOn[${i}]`, `unknown retry condition "${c}"`);
        }
    }
  }
  for (const [i, code] of (p.retriableStatusCodes ?? []).entries()) {
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      throw new CompileError(`retriableStatusCodes[${i}]`, `${String(code)} is not an HTTP status`);
    }
    // A list in the snapshot states the intent even if the condition was left out.
    statusCodesOn = true;
    codes.add(code);
  }
  return {
    retries: Math.max(0, Math.floor(attempts)),
    perTryTimeoutMs: perTry,
    ...flags,
    statusCodes: statusCodesOn ? [...codes].sort((a, b) => a - b) : [],
    grpcCodes: [...grpc].sort((a, b) => a - b),
    perTryTimeoutRetriable: flags.any5xx || flags.gatewayError,
    // Envoy: the cap is 10 times the base (25 ms and 250 ms by default).
    backoffBaseMs: backoff,
    backoffMaxMs: backoff * 10,
    conditions: conditions.map((c) => c.trim()),
  };
}

/** Whether an upstream response with this status (and gRPC status, -1 if none) is retried. */
export function isRetriableResponse(
  p: CompiledRetryPolicy,
  status: number,
  grpcStatus: number,
): boolean {
  if (status >= 500) {
    if (p.any5xx) return true;
    if (p.gatewayError && status >= 502 && status <= 504) return true;
  }
  if (status === 409 && p.retriable4xx) return true;
  if (p.statusCodes.length > 0 && p.statusCodes.includes(status)) return true;
  if (grpcStatus >= 0 && p.grpcCodes.length > 0 && p.grpcCodes.includes(grpcStatus)) return true;
  return false;
}

/**
 * Envoy's backoff: full jitter over an exponentially growing window, capped at 10x base.
 * `retry` is 1 for the first retry.
 */
export function retryBackoffMs(
  p: CompiledRetryPolicy,
  retry: number,
  random: () => number,
): number {
  const window = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * window);
}
