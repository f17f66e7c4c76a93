// `weft prometheus-config`: a Prometheus configuration that scrapes the control plane and
// every proxy. Proxies are found through the control plane, which lists every connected
// proxy's admin address in the JSON Prometheus's service discovery reads: by HTTP
// (http_sd_configs on /v1/prometheus/targets, always current), or, with --file-sd, from a
// file this command writes (file_sd_configs; --watch keeps it current).

import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Api } from '../api-client.js';

export interface PrometheusConfigOptions {
  /** Prometheus duration, e.g. 15s. */
  scrapeInterval: string;
  /** Write the targets here and point the config at the file. */
  fileSd?: string;
  /** With fileSd: rewrite the file every refresh until stopped. */
  watch?: boolean;
  refreshMs: number;
  /** The mesh root a locked (HTTPS) control plane's certificate chains to. */
  caFile?: string | undefined;
}

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export function prometheusConfig(controlUrl: string, o: PrometheusConfigOptions): string {
  const control = new URL(controlUrl);
  const refresh = `${Math.max(1, Math.round(o.refreshMs / 1000))}s`;
  // A locked control plane serves HTTPS with a mesh-CA certificate; its reads are open on
  // loopback, so Prometheus needs the root, not a token (docs/security.md).
  const tls =
    control.protocol === 'https:' && o.caFile !== undefined
      ? { tls_config: { ca_file: o.caFile } }
      : {};
  const proxies: Record<string, unknown> = { job_name: 'weft-proxies' };
  if (o.fileSd !== undefined)
    proxies.file_sd_configs = [{ files: [resolve(o.fileSd)], refresh_interval: refresh }];
  else
    proxies.http_sd_configs = [
      {
        url: new URL('/v1/prometheus/targets', control).toString(),
        refresh_interval: refresh,
        ...tls,
      },
    ];
  return stringify({
    global: { scrape_interval: o.scrapeInterval, evaluation_interval: o.scrapeInterval },
    scrape_configs: [
      {
        job_name: 'weft-control-plane',
        metrics_path: '/metrics',
        scheme: control.protocol.replace(':', ''),
        static_configs: [{ targets: [control.host] }],
        ...tls,
      },
      proxies,
    ],
  });
}

/** Writes the file atomically, so Prometheus never reads half of it. */
export async function writeTargets(api: Api, file: string): Promise<TargetGroup[]> {
  const groups = await api.request<TargetGroup[]>('GET', '/v1/prometheus/targets');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(groups, null, 2)}\n`);
  renameSync(tmp, file);
  return groups;
}

export async function prometheusConfigCommand(
  api: Api,
  o: PrometheusConfigOptions,
  untilStopped: (stop: () => Promise<void>) => Promise<number>,
): Promise<number> {
  if (o.fileSd !== undefined) {
    const groups = await writeTargets(api, o.fileSd);
    process.stderr.write(`weft: wrote ${groups.length} proxy target(s) to ${o.fileSd}\n`);
  } else {
    // Fail early and clearly if the control plane is not there.
    await api.request('GET', '/v1/prometheus/targets');
  }
  process.stdout.write(prometheusConfig(api.base, { ...o, caFile: o.caFile ?? api.caFile }));
  if (o.fileSd === undefined || o.watch !== true) return 0;
  const file = o.fileSd;
  const timer = setInterval(() => {
    writeTargets(api, file).catch((err: Error) =>
      process.stderr.write(`weft: could not refresh ${file}: ${err.message}\n`),
    );
  }, o.refreshMs);
  return untilStopped(() => {
    clearInterval(timer);
    return Promise.resolve();
  });
}
