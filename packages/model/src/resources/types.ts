import type { Violation } from '../violation.js';

export type ResourceGroup = 'networking.istio.io' | 'security.istio.io';

export interface SpecContext {
  /** The resource's namespace (already defaulted), against which short names resolve. */
  namespace: string;
}

export interface SpecResult<Spec> {
  /** Present only when the spec has no error-severity violation. */
  spec?: Spec;
  violations: Violation[];
}

/**
 * One resource kind Weft understands. Adding a kind is a folder shaped like
 * `virtual-service/` and one line in kinds.ts.
 */
export interface ResourceKind<Spec> {
  kind: string;
  group: ResourceGroup;
  /** Schema-identical API versions, newest first. */
  versions: readonly string[];
  /**
   * Field paths Weft implements, from the document root; `[]` stands for any list index and a
   * path covers everything below it. Every other field present in a document is reported as
   * a warning, so nothing Weft ignores is ignored silently.
   */
  supportedFields: readonly string[];
  validateSpec(spec: unknown, ctx: SpecContext): SpecResult<Spec>;
}

export interface ResourceMetadata {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ResourceOf<Kind extends string, Spec> {
  apiVersion: string;
  kind: Kind;
  metadata: ResourceMetadata;
  spec: Spec;
}
