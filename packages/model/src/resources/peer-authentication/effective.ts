// Which mTLS mode a workload's inbound side runs, from every PeerAuthentication in the mesh,
// as Istio composes them (pilot/pkg/security/authn/policy_applier.go): the workload policy (a
// selector matching the workload's labels, in its namespace) over the namespace policy (no
// selector) over the mesh policy (root namespace, no selector) over PERMISSIVE. UNSET inherits
// the next level; a port-level mode of the workload policy wins for that port. When two
// policies sit at one level, the oldest wins (the caller passes them oldest first). Pure: the
// control plane's translate and the proxy's compile both call it.

import { ROOT_NAMESPACE } from '../../names.js';
import type { MtlsMode } from './schema.js';

/** One PeerAuthentication as the snapshot carries it. */
export interface PeerPolicy {
  namespace: string;
  name: string;
  /** Absent or empty: namespace-wide (or mesh-wide in the root namespace). */
  selector?: Record<string, string>;
  mode: MtlsMode;
  /** Workload port -> mode (only with a selector). */
  ports?: Record<string, MtlsMode>;
}

export interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export type EffectiveMode = Exclude<MtlsMode, 'UNSET'>;

/** The mode for the workload (and port, when given); policies oldest first. */
export function effectivePeerMode(
  policies: readonly PeerPolicy[],
  workload: Workload,
  port?: number,
  rootNamespace: string = ROOT_NAMESPACE,
): EffectiveMode {
  let mesh: PeerPolicy | undefined;
  let namespace: PeerPolicy | undefined;
  let workloadPolicy: PeerPolicy | undefined;
  for (const p of policies) {
    const selector = p.selector ?? {};
    const selects = Object.keys(selector).length > 0;
    if (!selects) {
      if (p.namespace === rootNamespace) mesh ??= p;
      if (p.namespace === workload.namespace) namespace ??= p;
    } else if (
      p.namespace === workload.namespace &&
      workloadPolicy === undefined &&
      Object.entries(selector).every(([k, v]) => workload.labels[k] === v)
    ) {
      workloadPolicy = p;
    }
  }
  const portMode = port === undefined ? undefined : workloadPolicy?.ports?.[String(port)];
  for (const mode of [portMode, workloadPolicy?.mode, namespace?.mode, mesh?.mode])
    if (mode !== undefined && mode !== 'UNSET') return mode;
  return 'PERMISSIVE';
}
