// Admission for the control plane and `weft analyze`: would every proxy accept this snapshot?
// A snapshot compiles differently per proxy only in which Gateways it selects, so compiling
// it as one sidecar and as one gateway per distinct Gateway selector covers every proxy.

import type { ProxyNode, Snapshot } from '@weft/model';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { CompileErrors, compileErrorsOf, type CompileError } from '../routing/compile-error.js';
import { compileSnapshot } from './compile-snapshot.js';

/**
 * Compiles `snapshot` for every kind of proxy; throws CompileErrors with every error found
 * (each message names the snapshot field), and returns the compile warnings otherwise.
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
  // The same field fails the same way for every node: one error each.
  const errors = new Map<string, CompileError>();
  for (const node of nodes) {
    try {
      const table = compileSnapshot(snapshot, {
        node,
        health: createHealthTracker(),
        allErrors: true,
      });
      for (const w of table.warnings) warnings.add(w);
    } catch (err) {
      for (const e of compileErrorsOf(err)) if (!errors.has(e.message)) errors.set(e.message, e);
    }
  }
  if (errors.size > 0) throw new CompileErrors([...errors.values()]);
  return { warnings: [...warnings] };
}
