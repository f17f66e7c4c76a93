// Istio's HTTPFaultInjection (istio-semantics 1.8), applied by the client-side proxy before
// routing: delay a share of requests by a fixed time, answer a share with an HTTP status
// without calling the upstream. compileFault runs once per snapshot; decideFault once per
// request, drawing from the random source it is given.

import { ResponseFlag, type FaultPolicy } from '@weft/model';
import { CompileError } from '../../routing/compile-error.js';

export interface CompiledFault {
  /** 0 when the route never delays. */
  readonly delayMs: number;
  /** Share of requests delayed, in parts per million (Envoy's FractionalPercent). */
  readonly delayPerMillion: number;
  /** 0 when the route never aborts. */
  readonly abortStatus: number;
  readonly abortPerMillion: number;
}

export interface FaultDecision {
  /** 0 = not delayed. */
  readonly delayMs: number;
  /** 0 = not aborted. */
  readonly abortStatus: number;
}

/** The decision for most requests, shared so that they allocate nothing. */
export const NO_FAULT: FaultDecision = Object.freeze({ delayMs: 0, abortStatus: 0 });

/** Envoy's body for an aborted request; clients and tests recognise it. */
export const FAULT_ABORT_BODY = 'fault filter abort';

const MILLION = 1_000_000;

/**
 * istiod sends `value × 10000` per million, so `0.1` is 0.1 %, one request in a thousand.
 * Rounding (istiod truncates) keeps float noise such as 29.3 × 10000 = 292999.99… from
 * costing a part per million.
 */
export function perMillion(percent: number): number {
  return Math.min(MILLION, Math.max(0, Math.round(percent * 10_000)));
}

/** Undefined when the policy can never fire (0 %), so that the route pays nothing for it. */
export function compileFault(p: FaultPolicy): CompiledFault | undefined {
  if (typeof p !== 'object' || p === null) throw new CompileError('', 'must be an object');
  let delayMs = 0;
  let delayPerMillion = 0;
  if (p.delay !== undefined) {
    const { fixedDelayMs, percent } = p.delay;
    if (typeof fixedDelayMs !== 'number' || !(fixedDelayMs >= 0) || !Number.isFinite(fixedDelayMs))
      throw new CompileError('delay.fixedDelayMs', `${String(fixedDelayMs)} must be a number >= 0`);
    checkPercent(percent, 'delay.percent');
    delayPerMillion = fixedDelayMs > 0 ? perMillion(percent) : 0;
    delayMs = delayPerMillion > 0 ? fixedDelayMs : 0;
  }
  let abortStatus = 0;
  let abortPerMillion = 0;
  if (p.abort !== undefined) {
    const { httpStatus, percent } = p.abort;
    if (!Number.isInteger(httpStatus) || httpStatus < 200 || httpStatus > 599)
      throw new CompileError(
        'abort.httpStatus',
        `${String(httpStatus)} is not a final HTTP status`,
      );
    checkPercent(percent, 'abort.percent');
    abortPerMillion = perMillion(percent);
    abortStatus = abortPerMillion > 0 ? httpStatus : 0;
  }
  if (delayMs === 0 && abortStatus === 0) return undefined;
  return { delayMs, delayPerMillion, abortStatus, abortPerMillion };
}

function checkPercent(v: unknown, field: string): asserts v is number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 100))
    throw new CompileError(field, `${String(v)} must be a number from 0 to 100`);
}

/** One draw per configured part, as Envoy: delay and abort are independent. */
export function decideFault(f: CompiledFault, random: () => number): FaultDecision {
  const delayed = f.delayMs > 0 && draw(f.delayPerMillion, random);
  const aborted = f.abortStatus > 0 && draw(f.abortPerMillion, random);
  if (!delayed && !aborted) return NO_FAULT;
  return { delayMs: delayed ? f.delayMs : 0, abortStatus: aborted ? f.abortStatus : 0 };
}

/** 100 % never consumes a random number, so seeded tests of other draws are unaffected. */
function draw(partsPerMillion: number, random: () => number): boolean {
  return partsPerMillion >= MILLION || random() * MILLION < partsPerMillion;
}

/** The response flags of a decision, as Envoy logs them: `DI`, `FI` or `DI,FI`. */
export function faultFlags(d: FaultDecision): string | undefined {
  if (d.delayMs > 0)
    return d.abortStatus > 0
      ? `${ResponseFlag.DelayInjected},${ResponseFlag.FaultInjected}`
      : ResponseFlag.DelayInjected;
  return d.abortStatus > 0 ? ResponseFlag.FaultInjected : undefined;
}
