// Checks on a PeerAuthentication beyond its schema, after istio/istio
// pkg/config/validation/validation.go (ValidatePeerAuthentication).
import { ROOT_NAMESPACE } from '../../names.js';
import type { FieldPath, Report } from '../checks.js';
import type { SpecContext } from '../types.js';
import type { PeerAuthenticationSpec } from './schema.js';

export function validatePeerAuthentication(
  spec: PeerAuthenticationSpec,
  report: Report,
  ctx: SpecContext,
): PeerAuthenticationSpec {
  const at: FieldPath = ['spec'];
  const labels = spec.selector?.matchLabels ?? {};
  const hasSelector = Object.keys(labels).length > 0;
  if (spec.portLevelMtls !== undefined) {
    // Istio: port-level settings need a workload selector (ports are a workload's).
    if (!hasSelector)
      report.error(
        [...at, 'portLevelMtls'],
        'portLevelMtls needs a workload selector with at least one label',
      );
    if (Object.keys(spec.portLevelMtls).length === 0)
      report.error([...at, 'portLevelMtls'], 'must name at least one port when present');
    for (const port of Object.keys(spec.portLevelMtls)) {
      const n = Number(port);
      if (!/^\d+$/.test(port) || n < 1 || n > 65535)
        report.error([...at, 'portLevelMtls', port], `"${port}" is not a port number (1-65535)`);
    }
  }
  if (hasSelector && ctx.namespace === ROOT_NAMESPACE)
    report.warning(
      [...at, 'selector'],
      `a selector in the root namespace ${ROOT_NAMESPACE} applies only to workloads there, not to the mesh`,
    );
  return spec;
}
