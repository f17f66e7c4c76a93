// The filters a route runs before its action, compiled once per route. The order is fixed
// (DESIGN.md, and Istio's HTTP filter chain): authorization (not yet), fault injection, CORS;
// then header changes and rewrite / redirect / direct response (compile/), then routing.
// server/route-filters.ts runs them per request. Adding a filter is a folder beside these and
// one line here. Mirroring is part of the route action (compile-snapshot.ts), as in Envoy,
// where the router sends the shadow copies.

import type { Route } from '@weft/model';
import { at } from '../routing/compile-error.js';
import { compileCors, type CompiledCors } from './cors/index.js';
import { compileFault, type CompiledFault } from './fault/index.js';

export interface RouteFilters {
  readonly fault: CompiledFault | undefined;
  readonly cors: CompiledCors | undefined;
}

/** Undefined when the route has no filter that can act, so a request pays one test. */
export function compileRouteFilters(r: Route): RouteFilters | undefined {
  const fault = r.fault === undefined ? undefined : at('fault', () => compileFault(r.fault!));
  const cors = r.cors === undefined ? undefined : at('cors', () => compileCors(r.cors!));
  if (fault === undefined && cors === undefined) return undefined;
  return { fault, cors };
}

/** Response flags joined as Envoy logs them (`DI,UF`): a filter's first, then the exchange's. */
export function joinFlags(
  first: string | undefined,
  second: string | undefined,
): string | undefined {
  if (first === undefined) return second;
  return second === undefined ? first : `${first},${second}`;
}
