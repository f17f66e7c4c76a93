// apply / get / delete: the config and registry commands. They read and write through the
// control plane's API only.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  formatViolation,
  mergeProxyWaits,
  type Instance,
  type ProxyStatus,
  type Violation,
} from '@weft/model';
import type { ApplyResult, ProxyWaitResult, RouteRow } from '@weft/control-plane';
import { ApiError, type Api } from '../api-client.js';
import { print, table, type OutputFormat } from '../output.js';

const YAML_EXT = new Set(['.yaml', '.yml', '.json']);

/** FILE or DIR (recursively, *.yaml|*.yml|*.json in name order), `-` for stdin. */
export function readInputs(paths: string[]): { path: string; content: string }[] {
  const out: { path: string; content: string }[] = [];
  const visit = (p: string, top: boolean) => {
    if (p === '-') {
      out.push({ path: '<stdin>', content: readFileSync(0, 'utf8') });
      return;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) visit(join(p, name), false);
    } else if (top || YAML_EXT.has(extname(p).toLowerCase())) {
      out.push({ path: p, content: readFileSync(p, 'utf8') });
    }
  };
  for (const p of paths) visit(p, true);
  if (out.length === 0) throw new Error(`no .yaml, .yml or .json files in ${paths.join(', ')}`);
  return out;
}

function printViolations(vs: Violation[]): void {
  for (const v of vs) process.stderr.write(`${formatViolation(v)}\n`);
}

export async function applyCommand(
  api: Api,
  files: string[],
  opts: { dryRun?: boolean; wait?: boolean; timeoutMs?: number },
): Promise<number> {
  const inputs = readInputs(files);
  try {
    const r = await api.request<ApplyResult>('POST', '/v1/apply', {
      files: inputs,
      dryRun: opts.dryRun === true,
    });
    printViolations(r.warnings);
    for (const x of r.results)
      process.stdout.write(
        `${x.kind.toLowerCase()}/${x.name} ${x.action}${r.dryRun ? ' (dry run)' : ''}\n`,
      );
    if (opts.wait && !r.dryRun) return await waitLive(api, r.revision, opts.timeoutMs ?? 30_000);
    return 0;
  } catch (err) {
    if (
      err instanceof ApiError &&
      (err.code === 'WEFT_ERR_INVALID_CONFIG' || err.code === 'WEFT_ERR_ADMISSION')
    ) {
      const body = err.body as { error: { errors: Violation[]; warnings: Violation[] } };
      printViolations(body.error.errors);
      printViolations(body.error.warnings);
      process.stderr.write(`weft: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ApiError && err.code === 'WEFT_ERR_NOTHING_TO_APPLY') {
      printViolations((err.body as { error: { warnings: Violation[] } }).error.warnings);
    }
    throw err;
  }
}

/**
 * `apply --wait`: one long poll until every connected proxy runs `revision` or newer. Each
 * replica knows only its own proxies, so with `--control URL1,URL2` every replica is asked at
 * once and the answers merged (a replica that does not answer is named; its proxies have moved).
 */
async function waitLive(api: Api, revision: number, timeoutMs: number): Promise<number> {
  const ask = (a: Api) =>
    a.request<ProxyWaitResult>(
      'GET',
      `/v1/proxies/wait?version=${revision}&timeoutMs=${timeoutMs}`,
      undefined,
      { timeoutMs: timeoutMs + 10_000 },
    );
  const w = mergeProxyWaits(await eachReplica(api, ask));
  const live = w.proxies.filter((p) => p.state === 'live').length;
  const total = w.proxies.length;
  if (w.done) {
    process.stdout.write(`live on ${live} of ${total} proxies (version >= ${revision})\n`);
    return 0;
  }
  for (const p of w.proxies) {
    if (p.state === 'nacked')
      process.stderr.write(`${p.id} (${p.role}) rejected version >= ${revision}: ${p.error}\n`);
    else if (p.state === 'lagging')
      process.stderr.write(
        `${p.id} (${p.role}) lags: runs version ${p.ackedVersion ?? 'none'}, not yet ${revision}\n`,
      );
  }
  const nacked = w.proxies.filter((p) => p.state === 'nacked').length;
  process.stderr.write(
    `weft: live on ${live} of ${total} proxies${nacked > 0 ? `; ${nacked} rejected the configuration` : ''}${
      w.timedOut ? `; gave up after ${timeoutMs} ms` : ''
    }\n`,
  );
  return 1;
}

interface ResourceItem {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown>;
  status: { createRevision: number; modRevision: number };
}

const CONFIG_KINDS: Record<string, string> = {
  virtualservice: 'VirtualService',
  virtualservices: 'VirtualService',
  vs: 'VirtualService',
  destinationrule: 'DestinationRule',
  destinationrules: 'DestinationRule',
  dr: 'DestinationRule',
  gateway: 'Gateway',
  gateways: 'Gateway',
  gw: 'Gateway',
  serviceentry: 'ServiceEntry',
  serviceentries: 'ServiceEntry',
  se: 'ServiceEntry',
};

export const INSTANCE_COLUMNS = ['namespace', 'service', 'id', 'address', 'healthy', 'labels'];

export function instanceRow(i: Instance): string[] {
  return [
    i.namespace,
    i.service,
    i.id,
    `${i.address}:${i.port}`,
    i.healthy ? 'yes' : 'NO',
    Object.entries(i.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  ];
}

export const GET_TARGETS = [
  'services',
  'instances',
  'routes',
  'proxies',
  'virtualservices',
  'destinationrules',
  'gateways',
  'serviceentries',
];

export async function getCommand(
  api: Api,
  what: string,
  name: string | undefined,
  format: OutputFormat,
  namespace: string,
): Promise<number> {
  const w = what.toLowerCase();
  if (w === 'services' || w === 'service' || w === 'svc') {
    const { items } = await api.request<{
      items: {
        name: string;
        namespace: string;
        instances: number;
        healthy: number;
        versions: string[];
      }[];
    }>('GET', '/v1/services');
    print(format, items, () =>
      table(
        ['namespace', 'name', 'instances', 'healthy', 'versions'],
        items.map((s) => [
          s.namespace,
          s.name,
          s.instances,
          s.healthy,
          s.versions.join(',') || '-',
        ]),
      ),
    );
    return 0;
  }
  if (w === 'instances' || w === 'instance' || w === 'inst') {
    const { items } = await api.request<{ items: Instance[] }>('GET', '/v1/instances');
    const shown = name ? items.filter((i) => i.service === name) : items;
    print(format, shown, () => table(INSTANCE_COLUMNS, shown.map(instanceRow)));
    return 0;
  }
  if (w === 'routes' || w === 'route') {
    const { items } = await api.request<{ items: RouteRow[] }>('GET', '/v1/routes');
    print(format, items, () =>
      table(
        ['listener', 'virtual host', 'route', 'match', 'destination'],
        items.map((r) => [r.listener, r.virtualHost, r.route, r.match, r.action]),
      ),
    );
    return 0;
  }
  if (w === 'proxies' || w === 'proxy' || w === 'proxy-status') {
    const r = await proxyStatuses(api);
    print(format, r, () =>
      table(
        ['proxy', 'role', 'acked', 'latest', 'status'],
        r.items.map((p) => [
          p.node.id,
          p.node.role,
          p.ackedVersion ?? '-',
          r.version ?? '-',
          p.nack
            ? `NACK ${p.nack.version}: ${p.nack.error}`
            : p.ackedVersion === r.version
              ? 'SYNCED'
              : 'STALE',
        ]),
      ),
    );
    return 0;
  }
  const kind = CONFIG_KINDS[w];
  if (!kind) throw new Error(`unknown resource "${what}"; use one of ${GET_TARGETS.join(', ')}`);
  if (name) {
    const item = await api.request<ResourceItem>(
      'GET',
      `/v1/resources/${kind}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
    );
    print(format === 'table' ? 'yaml' : format, item, () => '');
    return 0;
  }
  const { items } = await api.request<{ items: ResourceItem[] }>(
    'GET',
    `/v1/resources?kind=${kind}`,
  );
  print(format, items, () =>
    table(
      ['namespace', 'name', 'hosts', 'revision'],
      items.map((i) => [i.metadata.namespace, i.metadata.name, hostsOf(i), i.status.modRevision]),
    ),
  );
  return 0;
}

/**
 * Every replica's proxies: each replica knows only the proxies connected to it, so with
 * `--control URL1,URL2` every one is asked and the lists are merged (a replica that does not
 * answer is named on stderr; its proxies have moved to the others anyway).
 */
async function proxyStatuses(api: Api): Promise<{ version?: number; items: ProxyStatus[] }> {
  const ok = await eachReplica(api, (a) =>
    a.request<{ version?: number; items: ProxyStatus[] }>('GET', '/v1/proxies'),
  );
  const versions = ok.map((a) => a.version).filter((v): v is number => v !== undefined);
  return {
    ...(versions.length > 0 ? { version: Math.max(...versions) } : {}),
    items: ok.flatMap((a) => a.items).sort((a, b) => a.node.id.localeCompare(b.node.id)),
  };
}

/**
 * Asks every replica given (or the one), in parallel. A replica that does not answer is named
 * on stderr and left out; fails only when none answers.
 */
async function eachReplica<T>(api: Api, ask: (a: Api) => Promise<T>): Promise<T[]> {
  const apis = api.perReplica();
  if (apis.length === 0) return [await ask(api)];
  const answers = await Promise.all(
    apis.map((a) =>
      ask(a).catch((err: Error) => {
        process.stderr.write(`weft: ${a.base}: ${err.message}\n`);
        return undefined;
      }),
    ),
  );
  const ok = answers.filter((a): a is Awaited<T> => a !== undefined);
  if (ok.length === 0) throw new Error('no control-plane replica answered');
  return ok;
}

function hostsOf(i: ResourceItem): string {
  const s = i.spec;
  if (Array.isArray(s.hosts)) return (s.hosts as string[]).join(',');
  if (typeof s.host === 'string') return s.host;
  if (Array.isArray(s.servers))
    return (s.servers as { hosts?: string[] }[]).flatMap((x) => x.hosts ?? []).join(',');
  return '-';
}

export async function deleteCommand(
  api: Api,
  args: string[],
  opts: { filename?: string[]; namespace: string },
): Promise<number> {
  const targets: { kind: string; namespace: string; name: string }[] = [];
  if (opts.filename && opts.filename.length > 0) {
    // Deleting by file names what the file holds; the control plane parses it without applying.
    const r = await api.request<ApplyResult>('POST', '/v1/apply', {
      files: readInputs(opts.filename),
      dryRun: true,
    });
    for (const x of r.results) targets.push({ kind: x.kind, namespace: x.namespace, name: x.name });
  } else {
    const [what, name] = args;
    const kind = what ? CONFIG_KINDS[what.toLowerCase()] : undefined;
    if (!what || !name)
      throw new Error('usage: weft delete KIND NAME [-n NAMESPACE] | weft delete -f FILE');
    if (what === 'instance' || what === 'instances') {
      await api.request('DELETE', `/v1/instances/${encodeURIComponent(name)}`);
      process.stdout.write(`instance/${name} deregistered\n`);
      return 0;
    }
    if (!kind)
      throw new Error(
        `unknown kind "${what}"; use virtualservice, destinationrule, gateway or instance`,
      );
    targets.push({ kind, namespace: opts.namespace, name });
  }
  let failed = 0;
  for (const t of targets) {
    try {
      await api.request(
        'DELETE',
        `/v1/resources/${t.kind}/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.name)}`,
      );
      process.stdout.write(`${t.kind.toLowerCase()}/${t.name} deleted\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`weft: ${(err as Error).message}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}
