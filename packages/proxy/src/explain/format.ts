// Two renderings of an explain trace: the multi-line text `weft explain` prints, and the one
// line the proxy puts in an `x-weft-explain` response header.

import type { DestinationTrace, ExplainTrace, RouteTrace } from './types.js';

export function formatExplain(t: ExplainTrace): string {
  const lines: string[] = [];
  const r = t.request;
  const viewName =
    t.listener === 'gateway'
      ? `gateway view (serves ${t.gateways && t.gateways.length > 0 ? t.gateways.join(', ') : 'no Gateway'})`
      : `sidecar outbound view${t.from !== undefined ? ` (from ${t.from})` : ''}`;
  lines.push(`snapshot  v${t.version}, ${viewName}`);
  lines.push(
    `request   ${r.method} ${r.scheme}://${r.authority}${r.path}${r.query !== '' ? `?${r.query}` : ''} (port ${r.port})`,
  );
  if (t.virtualHost === undefined) {
    lines.push(`host      ${r.authority}: no virtual host`);
  } else {
    lines.push(
      `host      ${r.authority} -> virtual host ${t.virtualHost.name} (domain ${t.virtualHost.domain})`,
    );
  }
  if (t.routes.length > 0) {
    lines.push('routes');
    for (const rt of t.routes) {
      lines.push(`  ${routeLabel(rt)}`);
      if (rt.matched) {
        const cond = rt.conditions[rt.block ?? 0];
        lines.push(
          `      MATCHED${cond !== undefined ? ` by ${rt.conditions.length > 1 ? `match[${rt.block}]: ` : ''}${cond}` : ''}`,
        );
      } else {
        for (const f of rt.failures) lines.push(`      no: ${f}`);
      }
    }
  }
  const a = t.action;
  if (a?.type === 'route') {
    lines.push('destinations');
    for (const d of a.destinations) lines.push(...destinationLines(d));
    lines.push(`timeout   ${a.timeoutMs > 0 ? `${a.timeoutMs} ms` : 'none'}`);
    lines.push(
      `retries   ${a.retries.attempts === 0 ? 'none' : `${a.retries.attempts} on ${a.retries.retryOn.join(',')}`}${
        a.retries.perTryTimeoutMs > 0 ? `, ${a.retries.perTryTimeoutMs} ms per try` : ''
      }${a.retries.isDefault ? ' (Weft default, by method)' : ''}`,
    );
    if (a.rewrite) lines.push(`rewrite   ${JSON.stringify(a.rewrite)}`);
    if (a.headers) lines.push(`headers   ${JSON.stringify(a.headers)}`);
    if (a.fault) lines.push(`fault     ${JSON.stringify(a.fault)}`);
    for (const m of a.mirrors ?? []) lines.push(`mirror    ${m.percent}% to ${m.cluster}`);
    if (a.cors) lines.push(`cors      ${JSON.stringify(a.cors)}`);
  } else if (a?.type === 'redirect') {
    lines.push(`redirect  ${a.code} to ${a.location}`);
  } else if (a?.type === 'direct') {
    lines.push(
      `direct    ${a.status}${a.body !== undefined ? ` ${JSON.stringify(a.body.length > 80 ? `${a.body.slice(0, 80)}...` : a.body)}` : ''}`,
    );
  }
  const o = t.outcome;
  lines.push(
    `result    ${o.kind === 'forward' ? '' : `${o.status ?? ''}${o.flag ? ` ${o.flag}` : ''}: `}${o.message}`,
  );
  return `${lines.join('\n')}\n`;
}

function routeLabel(rt: RouteTrace): string {
  const vs = rt.virtualService;
  const from = vs ? ` (VirtualService ${vs.namespace}/${vs.name} http[${vs.http}]` : ' (';
  const name = rt.name !== undefined ? `${vs ? ', ' : ''}name ${rt.name}` : '';
  const tail = from === ' (' && name === '' ? '' : `${from}${name})`;
  return `#${rt.index} ${rt.id}${tail}`;
}

function destinationLines(d: DestinationTrace): string[] {
  const out = [
    `  ${d.host}${d.subset !== undefined ? ` subset ${d.subset}` : ''}${d.port !== undefined ? ` port ${d.port}` : ''}  ${d.percent}%  cluster ${d.cluster}${
      d.clusterFound ? '' : '  NOT IN CONFIGURATION (503 NC)'
    }`,
  ];
  if (d.lb) out.push(`      lb ${d.lb.policy} (${d.lb.algorithm})`);
  if (d.clusterFound) {
    if (d.endpoints.length === 0) out.push('      endpoints: none known');
    for (const e of d.endpoints) {
      const state = !e.healthy ? 'UNHEALTHY' : e.ejected ? 'EJECTED' : 'healthy';
      out.push(
        `      endpoint ${e.id} ${e.address} ${state}${e.weight !== 1 ? ` weight ${e.weight}` : ''}`,
      );
    }
    out.push(`      chooses among ${d.eligible} of ${d.endpoints.length}`);
  }
  return out;
}

/**
 * One header-safe line: matched route, why earlier routes failed, destination and cluster.
 * The proxy appends the endpoint it actually used.
 */
export function compactExplain(t: ExplainTrace): string {
  const parts: string[] = [`v${t.version}`];
  if (t.virtualHost === undefined) {
    parts.push(`no virtual host for ${t.request.authority}`);
  } else {
    parts.push(`vhost=${t.virtualHost.name}`);
    const skipped = t.routes.filter((r) => !r.matched);
    if (skipped.length > 0)
      parts.push(`skipped=[${skipped.map((r) => `${r.id}: ${r.failures.join(', ')}`).join('; ')}]`);
    const m = t.matched !== undefined ? t.routes[t.matched] : undefined;
    parts.push(m ? `route=${m.id}${m.name !== undefined ? `(${m.name})` : ''}` : 'route=none');
  }
  const a = t.action;
  if (a?.type === 'route') {
    parts.push(
      `dest=${a.destinations
        .map(
          (d) =>
            `${d.host}${d.subset !== undefined ? `:${d.subset}` : ''}${a.destinations.length > 1 ? `(${d.percent}%)` : ''}`,
        )
        .join(',')}`,
    );
  } else if (a?.type === 'redirect') {
    parts.push(`redirect=${a.code} ${a.location}`);
  } else if (a?.type === 'direct') {
    parts.push(`direct=${a.status}`);
  }
  if (t.outcome.kind === 'local')
    parts.push(`result=${t.outcome.status ?? ''} ${t.outcome.flag ?? ''}`.trimEnd());
  return headerSafe(parts.join(' '));
}

/** Printable ASCII only (a header value must not carry CR/LF or bytes node rejects), capped. */
export function headerSafe(s: string, max = 2048): string {
  let out = '';
  for (let i = 0; i < s.length && out.length < max; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x20 && c < 0x7f ? s[i] : '?';
  }
  return out.length >= max ? `${out.slice(0, max - 3)}...` : out;
}
