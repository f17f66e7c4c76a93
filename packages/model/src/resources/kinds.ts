// The registry of resource kinds: adding a kind is a folder and one line here.
import {
  authorizationPolicyKind,
  type AuthorizationPolicySpec,
} from './authorization-policy/index.js';
import { destinationRuleKind, type DestinationRuleSpec } from './destination-rule/index.js';
import { gatewayKind, type GatewaySpec } from './gateway/index.js';
import { serviceEntryKind, type ServiceEntrySpec } from './service-entry/index.js';
import {
  peerAuthenticationKind,
  type PeerAuthenticationSpec,
} from './peer-authentication/index.js';
import type { ResourceKind, ResourceOf } from './types.js';
import { virtualServiceKind, type VirtualServiceSpec } from './virtual-service/index.js';

export const kinds = {
  VirtualService: virtualServiceKind,
  DestinationRule: destinationRuleKind,
  Gateway: gatewayKind,
  ServiceEntry: serviceEntryKind,
  AuthorizationPolicy: authorizationPolicyKind,
  PeerAuthentication: peerAuthenticationKind,
} as const satisfies Record<string, ResourceKind<unknown>>;

export type KindName = keyof typeof kinds;
export type SpecOf<K extends KindName> =
  (typeof kinds)[K] extends ResourceKind<infer S> ? S : never;

/** A validated resource; `kind` tells which spec it carries. */
export type Resource = { [K in KindName]: ResourceOf<K, SpecOf<K>> }[KindName];
export type VirtualServiceResource = ResourceOf<'VirtualService', VirtualServiceSpec>;
export type DestinationRuleResource = ResourceOf<'DestinationRule', DestinationRuleSpec>;
export type GatewayResource = ResourceOf<'Gateway', GatewaySpec>;
export type ServiceEntryResource = ResourceOf<'ServiceEntry', ServiceEntrySpec>;
export type AuthorizationPolicyResource = ResourceOf<
  'AuthorizationPolicy',
  AuthorizationPolicySpec
>;
export type PeerAuthenticationResource = ResourceOf<'PeerAuthentication', PeerAuthenticationSpec>;

/**
 * Istio kinds Weft knows of but does not implement yet. Users apply Istio samples that mix
 * them with the kinds above, so they are skipped with a warning rather than rejected.
 */
const ISTIO_KINDS_NOT_SUPPORTED = new Set([
  'WorkloadEntry',
  'WorkloadGroup',
  'Sidecar',
  'EnvoyFilter',
  'ProxyConfig',
  'RequestAuthentication',
  'Telemetry',
  'WasmPlugin',
]);

export type KindLookup =
  | { type: 'weft'; descriptor: ResourceKind<unknown> }
  /** An Istio kind Weft does not implement yet. */
  | { type: 'istio-not-supported' }
  /** Not an Istio API group: Kubernetes objects (Service, Deployment, ...) and others. */
  | { type: 'foreign' }
  /** Missing, or unknown in an Istio group: validateResource says what is wrong. */
  | { type: 'unknown' };

export function kindDescriptor(kind: string): ResourceKind<unknown> | undefined {
  return Object.hasOwn(kinds, kind) ? kinds[kind as KindName] : undefined;
}

export function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Decides what a loader should do with a document before validating it. */
export function lookupKind(apiVersion: unknown, kind: unknown): KindLookup {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return { type: 'unknown' };
  const group = apiGroupOf(apiVersion);
  const descriptor = kindDescriptor(kind);
  if (group === 'istio.io' || group.endsWith('.istio.io')) {
    if (descriptor) return { type: 'weft', descriptor };
    return ISTIO_KINDS_NOT_SUPPORTED.has(kind)
      ? { type: 'istio-not-supported' }
      : { type: 'unknown' };
  }
  // `apiVersion: v1alpha3` with a Weft kind is a forgotten group, not a Kubernetes object.
  if (group === '' && descriptor) return { type: 'weft', descriptor };
  return { type: 'foreign' };
}
