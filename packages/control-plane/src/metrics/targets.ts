// Prometheus's HTTP service discovery (http_sd_configs) and file service discovery
// (file_sd_configs) read the same JSON: groups of targets with labels. Every connected proxy
// that told its admin address is one target, labelled with who it is, so queries can pick a
// proxy without knowing ports. `weft prometheus-config` points Prometheus here.

import type { ProxyStatus } from '@weft/model';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export const PROXY_METRICS_PATH = '/stats/prometheus';

export function prometheusTargets(proxies: readonly ProxyStatus[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const p of proxies) {
    const n = p.node;
    if (n.adminAddress === undefined) continue;
    groups.push({
      targets: [n.adminAddress],
      labels: {
        __metrics_path__: PROXY_METRICS_PATH,
        weft_proxy: n.id,
        weft_role: n.role,
        namespace: n.namespace,
        ...(n.service !== undefined ? { weft_service: n.service } : {}),
      },
    });
  }
  return groups;
}
