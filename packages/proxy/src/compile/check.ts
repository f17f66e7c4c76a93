// Admission for the control plane and `weft analyze`: would every proxy accept this snapshot?
// A snapshot compiles differently per proxy only in which Gateways it selects, so compiling
// it as one sidecar and as one gateway per distinct Gateway selector covers every proxy.

import type { ProxyNode, Snapshot } from '@weft/model';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { compileSnapshot } from './compile-snapshot.js';

/**
 * Compiles `snapshot` for every kind of proxy; throws the first CompileError (whose message
 * names the snapshot field), and returns the compile warnings otherwise.
 */
export function checkSnapshot(snapshot: Snapshot): { warnings: string[] } {
  const nodes: ProxyNode[] = [
    { id: 'weft-admission-sidecar', role: 'sidecar', namespace: 'default', labels: {} },
  ];
  const seen = new Set<string>();
  for (const gw of Array.isArray(snapshot?.gateways) ? snapshot.gateways : []) {
    const labels = { ...(gw?.selector ?? {}) };
    const key = JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) continue;
    seen.add(key);
    nodes.push({
      id: `weft-admission-gateway-${seen.size}`,
      role: 'gateway',
      namespace: 'default',
      labels,
    });
  }
  const warnings = new Set<string>();
  for (const node of nodes) {
    const table = compileSnapshot(snapshot, { node, health: createHealthTracker() });
    for (const w of table.warnings) warnings.add(w);
  }
  return { warnings: [...warnings] };
}
