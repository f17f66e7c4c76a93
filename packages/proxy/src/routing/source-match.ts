// Istio's source conditions of a match block (`sourceLabels`, `sourceNamespace`) are not
// checked per request: they decide which proxies get the block (istio-semantics 1.2). A proxy
// knows its own labels (a sidecar: its instance's; a gateway: its own) and namespace, so it
// settles them once, when it compiles the snapshot: a block that does not select it is left
// out of its table. Pure.

import type { MatchBlock, ProxyNode } from '@weft/model';

/**
 * Undefined when `block` applies to the proxy `node`; otherwise why not, in words (explain
 * prints it): its labels must include every sourceLabels pair, its namespace equal
 * sourceNamespace.
 */
export function sourceMismatch(
  block: MatchBlock,
  node: Pick<ProxyNode, 'labels' | 'namespace'>,
): { field: 'sourceLabels' | 'sourceNamespace'; reason: string } | undefined {
  const wanted = block.sourceLabels;
  if (wanted !== undefined) {
    for (const [k, v] of Object.entries(wanted)) {
      if (node.labels[k] !== v) {
        return {
          field: 'sourceLabels',
          reason: `${describeLabels(wanted)} do not select this proxy (its labels: ${describeLabels(node.labels)})`,
        };
      }
    }
  }
  const ns = block.sourceNamespace;
  if (ns !== undefined && ns !== node.namespace) {
    return {
      field: 'sourceNamespace',
      reason: `${JSON.stringify(ns)} is not this proxy's namespace ${JSON.stringify(node.namespace)}`,
    };
  }
  return undefined;
}

function describeLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? '{}' : `{${pairs.join(', ')}}`;
}
