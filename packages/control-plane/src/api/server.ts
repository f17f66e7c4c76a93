// The control plane's HTTP API (JSON over HTTP/1.1) and the snapshot stream's upgrade point.
// The CLI and the dashboard talk only to this; nothing reaches into the store from outside.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Instance, InstanceRegistration, Snapshot, Violation } from '@weft/model';
import type { ControlPlane } from '../control-plane.js';
import type { SnapshotHub } from '../distribute/hub.js';
import { configKey } from '../keys.js';
import type { Logger } from '../log.js';
import { Registry, RegistryError } from '../registry/registry.js';
import { prospectiveInput, runAdmission, type Admit } from '../admission/admission.js';
import { referenceWarnings } from '../admission/references.js';
import type { ControlPlaneMetrics } from '../metrics/metrics.js';
import { prometheusTargets } from '../metrics/targets.js';
import { loadSources } from '../sources/yaml.js';
import { translate } from '../translate/translate.js';
import { StoreError, type TxnOp } from '../store/types.js';
import { HttpError, readJson, sendError, sendJson } from './http.js';
import { CaError, type MeshCa } from '../ca/mesh-ca.js';
import { issueCertificate, type CertificateRequest } from '../ca/issue-api.js';
import { canonicalKind, KINDS } from './kinds.js';
import { authenticate, authorize, bearerToken, type Action, type Principal } from './auth.js';
import type { TokenBook } from './tokens.js';
import { tokenRoutes } from './token-routes.js';

const MAX_APPLY_BYTES = 8 << 20;
/** setTimeout's limit; a token expiring later than this is checked again when its stream reconnects. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_SMALL_BYTES = 64 << 10;

export interface ApiOptions {
  cp: ControlPlane;
  hub: SnapshotHub;
  log: Logger;
  /** Would every proxy accept this snapshot? Throws if not (see admission/admission.ts). */
  admit?: Admit | undefined;
  /** Which replica answers, and whether it leads (GET /v1/replica). */
  replica?: () => { replica: string; leader: boolean };
  /** Served at /metrics; store errors behind API calls are counted in it. */
  metrics?: ControlPlaneMetrics | undefined;
  /** More endpoints (the dashboard's), tried after the API's own. */
  extraRoutes?: readonly ApiRoute[];
  /** The mesh CA: POST /v1/certificates signs workload CSRs with it. */
  ca?: MeshCa | undefined;
  /** A locked control plane: every call is checked against these tokens (api/auth.ts). */
  auth?: ApiAuth | undefined;
  /** Serve HTTPS (and wss:// for the stream) with this certificate. */
  tls?: { cert: string; key: string } | undefined;
}

export interface ApiAuth {
  tokens: TokenBook;
  /** Whether GETs of state need no token (the API listens on loopback only). */
  openReads: boolean;
  now?: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>;
/**
 * `access` says who may call a route (api/auth.ts): 'public' anyone; 'read' (default for GET)
 * anyone with a token, or anyone when reads are open; 'admin' (default otherwise) admin tokens;
 * 'scoped' any token, the handler checks the service it acts for with `requireScope`.
 */
export type ApiRoute = [
  method: string,
  path: RegExp,
  handler: Handler,
  access?: 'public' | 'read' | 'admin' | 'scoped',
];

export type ApiServer = Server | HttpsServer;

/** Who sent a request, once the dispatcher checked its token (unlocked: an admin). */
const principals = new WeakMap<IncomingMessage, Principal>();
const UNLOCKED: Principal = { kind: 'admin', tokenId: '' };

/** Throws 403 unless the request's credentials may act for this service. */
export function requireScope(
  req: IncomingMessage,
  what: Extract<Action, { type: 'instance' | 'certificate' }>,
): void {
  const who = principals.get(req) ?? UNLOCKED;
  const outcome = authorize(who, what, { openReads: false });
  if (!outcome.allowed) throw new HttpError(outcome.status, outcome.code, outcome.message);
}

export interface ApplyResult {
  revision: number;
  dryRun: boolean;
  results: {
    kind: string;
    namespace: string;
    name: string;
    action: 'created' | 'configured' | 'unchanged';
  }[];
  warnings: Violation[];
}

export function createApiServer(opts: ApiOptions): ApiServer {
  const { cp, hub, log, admit, metrics, ca, auth } = opts;
  const registry = new Registry(cp.store);
  // Unlocked, everyone may act for every service: no check, so the registry skips the read of
  // the record an id would replace (one store call fewer per registration).
  const scopeOf = (req: IncomingMessage): ((inst: Instance) => void) | undefined =>
    auth === undefined
      ? undefined
      : (inst) =>
          requireScope(req, { type: 'instance', service: inst.service, namespace: inst.namespace });

  const routes: ApiRoute[] = [
    ['GET', /^\/healthz$/, async (_q, res) => sendJson(res, 200, { ok: true }), 'public'],
    [
      'GET',
      /^\/metrics$/,
      async (_q, res) => {
        if (!metrics) throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', 'metrics are off');
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
      },
      // Prometheus scrapes without credentials, as istiod's and Linkerd's metrics ports do.
      'public',
    ],
    [
      'GET',
      /^\/v1\/prometheus\/targets$/,
      async (_q, res) => sendJson(res, 200, prometheusTargets(hub.statuses())),
    ],
    [
      'GET',
      /^\/v1\/replica$/,
      async (_q, res) =>
        sendJson(res, 200, {
          ...(opts.replica?.() ?? { replica: 'control-plane', leader: true }),
          version: cp.snapshot()?.version,
        }),
    ],
    [
      'GET',
      /^\/v1\/snapshot$/,
      async (_q, res) => sendJson(res, 200, requireSnapshot(cp.snapshot())),
    ],
    [
      'POST',
      /^\/v1\/apply$/,
      async (req, res) =>
        sendJson(res, 200, await apply(cp, await readJson(req, MAX_APPLY_BYTES), admit)),
    ],
    [
      'GET',
      /^\/v1\/proxies\/wait$/,
      async (req, res) => sendJson(res, 200, await waitForProxies(hub, req, res)),
    ],
    [
      'GET',
      /^\/v1\/resources$/,
      async (req, res) => {
        const kindParam = new URL(req.url ?? '/', 'http://x').searchParams.get('kind');
        const kind = kindParam ? mustKind(kindParam) : undefined;
        const items = cp
          .resources()
          .filter((c) => !kind || c.resource.kind === kind)
          .sort((a, b) => resKey(a.resource).localeCompare(resKey(b.resource)))
          .map((c) => ({
            ...c.resource,
            status: { createRevision: c.createRevision, modRevision: c.modRevision },
          }));
        sendJson(res, 200, { items });
      },
    ],
    [
      'GET',
      /^\/v1\/resources\/([^/]+)\/([^/]+)\/([^/]+)$/,
      async (_q, res, [k, ns, name]) => {
        const kv = await cp.store.get(configKey(mustKind(k ?? ''), ns ?? '', name ?? ''));
        if (!kv) throw notFound(k, ns, name);
        sendJson(res, 200, JSON.parse(kv.value));
      },
    ],
    [
      'DELETE',
      /^\/v1\/resources\/([^/]+)\/([^/]+)\/([^/]+)$/,
      async (_q, res, [k, ns, name]) => {
        const kind = mustKind(k ?? '');
        const { deleted, revision } = await cp.store.delete(configKey(kind, ns ?? '', name ?? ''));
        if (deleted === 0) throw notFound(k, ns, name);
        sendJson(res, 200, { deleted: { kind, namespace: ns, name }, revision });
      },
    ],
    [
      'POST',
      /^\/v1\/instances$/,
      async (req, res) => {
        const body = (await readJson(req, MAX_SMALL_BYTES)) as InstanceRegistration;
        if (typeof body?.service === 'string')
          requireScope(req, {
            type: 'instance',
            service: body.service,
            namespace: typeof body.namespace === 'string' ? body.namespace : 'default',
          });
        sendJson(res, 201, await registry.register(body, scopeOf(req)));
      },
      'scoped',
    ],
    [
      'GET',
      /^\/v1\/instances$/,
      async (req, res) => {
        const q = new URL(req.url ?? '/', 'http://x').searchParams;
        if (q.get('watch') === 'true' || q.get('watch') === '1')
          return watchInstances(cp, req, res, q.get('service') ?? undefined);
        sendJson(res, 200, { items: cp.instanceList().sort((a, b) => a.id.localeCompare(b.id)) });
      },
    ],
    [
      'PUT',
      /^\/v1\/instances\/([^/]+)\/heartbeat$/,
      async (req, res, [id]) =>
        sendJson(res, 200, await registry.heartbeat(decodeURIComponent(id ?? ''), scopeOf(req))),
      'scoped',
    ],
    [
      'PUT',
      /^\/v1\/instances\/([^/]+)\/health$/,
      async (req, res, [id]) => {
        const body = (await readJson(req, MAX_SMALL_BYTES)) as {
          healthy?: unknown;
          reason?: unknown;
        };
        if (typeof body?.healthy !== 'boolean')
          throw new HttpError(
            400,
            'WEFT_ERR_BAD_REQUEST',
            'body must be {"healthy": true|false, "reason"?: "why"}',
          );
        const inst = await registry.setHealth(
          decodeURIComponent(id ?? ''),
          body.healthy,
          scopeOf(req),
        );
        // The sidecar's words for a failed check (e.g. "GET /healthz answered 503"), for operators.
        log.info(
          { instance: inst.id, healthy: body.healthy, reason: body.reason },
          'instance health reported',
        );
        sendJson(res, 200, inst);
      },
      'scoped',
    ],
    [
      'DELETE',
      /^\/v1\/instances\/([^/]+)$/,
      async (req, res, [id]) => {
        const { revision } = await registry.deregister(decodeURIComponent(id ?? ''), scopeOf(req));
        sendJson(res, 200, { deregistered: id, revision });
      },
      'scoped',
    ],
    [
      'POST',
      /^\/v1\/certificates$/,
      async (req, res) => {
        if (!ca) throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', 'this control plane runs no CA');
        const body = (await readJson(req, MAX_SMALL_BYTES)) as CertificateRequest;
        sendJson(
          res,
          201,
          await issueCertificate(ca, body, (identity) =>
            requireScope(req, { type: 'certificate', ...identity }),
          ),
        );
      },
      'scoped',
    ],
    ['GET', /^\/v1\/services$/, async (_q, res) => sendJson(res, 200, { items: services(cp) })],
    [
      'GET',
      /^\/v1\/routes$/,
      async (_q, res) => sendJson(res, 200, { items: routeRows(requireSnapshot(cp.snapshot())) }),
    ],
    [
      'GET',
      /^\/v1\/proxies$/,
      async (_q, res) =>
        sendJson(res, 200, { version: cp.snapshot()?.version, items: hub.statuses() }),
    ],
  ];

  if (auth) routes.push(...tokenRoutes(auth.tokens, auth.now ?? Date.now));
  routes.push(...(opts.extraRoutes ?? []));

  /** The request's principal, or the refusal to send; unlocked: everyone is an admin. */
  const check = (req: IncomingMessage, access: NonNullable<ApiRoute[3]>): Principal => {
    if (!auth) return UNLOCKED;
    const now = (auth.now ?? Date.now)();
    const who = authenticate(
      bearerToken(req.headers.authorization),
      (id) => auth.tokens.find(id),
      now,
    );
    if (!('principal' in who)) throw new HttpError(who.status, who.code, who.message);
    const action: Action =
      access === 'public'
        ? { type: 'public' }
        : access === 'read'
          ? { type: 'read' }
          : access === 'admin'
            ? { type: 'admin' }
            : // Scoped routes check the service in the handler; here any token will do.
              { type: 'stream' };
    const outcome = authorize(who.principal, action, { openReads: auth.openReads });
    if (!outcome.allowed) throw new HttpError(outcome.status, outcome.code, outcome.message);
    if (who.principal.kind !== 'anonymous') auth.tokens.touch(who.principal.tokenId, now);
    return who.principal;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const matching = routes.filter(([, re]) => re.test(path));
    const route = matching.find(([m]) => m === req.method);
    const run = async (): Promise<void> => {
      if (route) {
        const who = check(req, route[3] ?? (route[0] === 'GET' ? 'read' : 'admin'));
        principals.set(req, who);
        // A long request (a watch, a tap, a long poll) ends when its token is revoked.
        if (who.kind !== 'anonymous' && auth) {
          const off = auth.tokens.onRevoke((id) => {
            if (id === who.tokenId) res.destroy();
          });
          res.once('close', off);
        }
      }
      if (!route) {
        if (matching.length > 0)
          throw new HttpError(
            405,
            'WEFT_ERR_METHOD_NOT_ALLOWED',
            `${req.method} is not allowed on ${path}; use ${matching.map(([m]) => m).join(', ')}`,
          );
        throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', `no API endpoint at ${path}`);
      }
      const params = route[1].exec(path)?.slice(1) ?? [];
      await route[2](req, res, params);
    };
    run().catch((err: unknown) => {
      const e = toHttpError(err);
      if (err instanceof StoreError) metrics?.storeError('api');
      if (e.status >= 500)
        log.error({ err: (err as Error)?.stack ?? String(err), path }, 'API request failed');
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
    });
  };
  const server: ApiServer = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handle)
    : createServer(handle);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== '/v1/stream') return void socket.destroy();
    let who: Principal;
    try {
      who = check(req, 'scoped');
    } catch (err) {
      const e = toHttpError(err);
      const body = JSON.stringify({ error: { code: e.code, message: e.message } });
      socket.end(
        `HTTP/1.1 ${e.status} ${e.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    hub.handleUpgrade(req, socket, head, who.kind === 'anonymous' || !auth ? undefined : who);
    // A stream lives longer than any request: it ends when its token expires, as on revocation.
    const expiresAt =
      who.kind === 'anonymous' ? undefined : auth?.tokens.find(who.tokenId)?.expiresAt;
    const left = expiresAt === undefined ? undefined : Date.parse(expiresAt) - Date.now();
    if (left !== undefined && who.kind !== 'anonymous' && left < MAX_TIMER_MS) {
      // +1: Node's timers may fire a millisecond early; the token must be expired by then.
      const timer = setTimeout(() => hub.closeToken(who.tokenId, 'token expired'), left + 1);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/** How often a quiet watch sends a BOOKMARK line, so idle proxies and LBs keep it open. */
const WATCH_BOOKMARK_MS = 20_000;

/**
 * `GET /v1/instances?watch=true[&service=NAME]`: newline-delimited JSON, one
 * `{"type":"ADDED"|"MODIFIED"|"DELETED","object":<instance>}` per line, as Kubernetes watches
 * read. It starts with an ADDED line per current instance, then follows the store; a
 * `{"type":"BOOKMARK","revision":N}` line marks that the stream is alive and up to date.
 */
async function watchInstances(
  cp: ControlPlane,
  req: IncomingMessage,
  res: ServerResponse,
  service: string | undefined,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
  });
  const write = (line: unknown) => res.write(`${JSON.stringify(line)}\n`);
  const wanted = (i: Instance) => service === undefined || i.service === service;
  for (const i of cp.instanceList().sort((a, b) => a.id.localeCompare(b.id)))
    if (wanted(i)) write({ type: 'ADDED', object: i });
  write({ type: 'BOOKMARK', revision: cp.snapshot()?.version });
  const off = cp.onInstanceEvents((events) => {
    for (const e of events) if (wanted(e.instance)) write({ type: e.type, object: e.instance });
  });
  const timer = setInterval(
    () => write({ type: 'BOOKMARK', revision: cp.snapshot()?.version }),
    WATCH_BOOKMARK_MS,
  );
  timer.unref();
  await new Promise<void>((resolve) => {
    const done = () => {
      off();
      clearInterval(timer);
      resolve();
    };
    req.once('close', done);
    res.once('close', done);
  });
}

export async function listenApi(server: ApiServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof CaError)
    return new HttpError(err.code === 'WEFT_ERR_CSR_IDENTITY' ? 403 : 400, err.code, err.message);
  if (err instanceof RegistryError)
    return new HttpError(
      err.code === 'WEFT_ERR_INSTANCE_NOT_FOUND' ? 404 : 400,
      err.code,
      err.message,
    );
  if (err instanceof StoreError) {
    if (err.code === 'WEFT_ERR_LEASE_NOT_FOUND') return new HttpError(404, err.code, err.message);
    if (err.code === 'WEFT_ERR_TXN_CONFLICT') return new HttpError(409, err.code, err.message);
    return new HttpError(503, err.code, err.message);
  }
  return new HttpError(
    500,
    'WEFT_ERR_INTERNAL',
    `internal error: ${(err as Error)?.message ?? String(err)}`,
  );
}

function mustKind(name: string) {
  const kind = canonicalKind(name);
  if (!kind)
    throw new HttpError(
      400,
      'WEFT_ERR_UNKNOWN_KIND',
      `unknown kind "${name}"; Weft serves ${KINDS.join(', ')}`,
    );
  return kind;
}

function notFound(kind?: string, ns?: string, name?: string): HttpError {
  return new HttpError(404, 'WEFT_ERR_NOT_FOUND', `${kind} ${ns}/${name} not found`);
}

function requireSnapshot(s: Snapshot | undefined): Snapshot {
  if (!s)
    throw new HttpError(
      503,
      'WEFT_ERR_NO_SNAPSHOT',
      'the control plane has not built a snapshot yet',
    );
  return s;
}

function resKey(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

async function apply(
  cp: ControlPlane,
  body: unknown,
  admit: Admit | undefined,
): Promise<ApplyResult> {
  const b = body as { files?: unknown; dryRun?: unknown };
  if (!Array.isArray(b?.files) || b.files.length === 0)
    throw new HttpError(
      400,
      'WEFT_ERR_BAD_REQUEST',
      'body must be {"files": [{"path": "...", "content": "..."}], "dryRun"?: bool}',
    );
  const inputs = b.files.map((f: unknown, i: number) => {
    const ff = f as { path?: unknown; content?: unknown };
    if (typeof ff?.path !== 'string' || typeof ff?.content !== 'string')
      throw new HttpError(
        400,
        'WEFT_ERR_BAD_REQUEST',
        `files[${i}] needs string "path" and "content"`,
      );
    return { path: ff.path, text: ff.content };
  });
  const { resources, violations } = loadSources(inputs);
  const errors = violations.filter((v) => v.severity === 'error');
  const warnings = violations.filter((v) => v.severity !== 'error');
  if (errors.length > 0)
    throw new HttpError(
      400,
      'WEFT_ERR_INVALID_CONFIG',
      `${errors.length} error(s); nothing was applied`,
      { errors, warnings },
    );
  if (resources.length === 0)
    throw new HttpError(
      400,
      'WEFT_ERR_NOTHING_TO_APPLY',
      'the files hold no Weft resource; nothing was applied',
      { errors: [], warnings },
    );
  // What the mesh would run after this apply (translate is pure, so this costs one translate):
  // admission compiles it as the proxies will, and its references are checked against it.
  const prospective = prospectiveInput(cp.translateInput(), resources);
  const snapshot = translate(prospective);
  const rejected = admit ? runAdmission(admit, snapshot, resources) : [];
  if (rejected.length > 0)
    throw new HttpError(
      400,
      'WEFT_ERR_ADMISSION',
      `${rejected[0]!.message}${rejected.length > 1 ? ` (and ${rejected.length - 1} more)` : ''}; nothing was applied`,
      { errors: rejected, warnings },
    );
  warnings.push(...referenceWarnings(resources, prospective, { offline: false }));

  const ops: TxnOp[] = [];
  const results: ApplyResult['results'] = [];
  for (const { resource: r } of resources) {
    const key = configKey(r.kind, r.metadata.namespace, r.metadata.name);
    const value = JSON.stringify(r);
    const old = await cp.store.get(key);
    const action = !old ? 'created' : old.value === value ? 'unchanged' : 'configured';
    results.push({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, action });
    if (action !== 'unchanged') ops.push({ type: 'put', key, value });
  }
  const dryRun = b.dryRun === true;
  // One txn: the whole apply lands at one revision, or nothing does.
  const revision =
    dryRun || ops.length === 0 ? await cp.store.revision() : (await cp.store.txn(ops)).revision;
  return { revision, dryRun, results, warnings };
}

function services(cp: ControlPlane) {
  const by = new Map<
    string,
    { name: string; namespace: string; instances: number; healthy: number; versions: Set<string> }
  >();
  for (const i of cp.instanceList()) {
    const k = `${i.namespace}/${i.service}`;
    const s = by.get(k) ?? {
      name: i.service,
      namespace: i.namespace,
      instances: 0,
      healthy: 0,
      versions: new Set<string>(),
    };
    s.instances++;
    if (i.healthy) s.healthy++;
    if (i.labels.version) s.versions.add(i.labels.version);
    by.set(k, s);
  }

  return [...by.values()]
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
    .map((s) => ({ ...s, versions: [...s.versions].sort() }));
}

/** One row of `GET /v1/routes`: a route as a person reads it. */
export interface RouteRow {
  listener: string;
  virtualHost: string;
  domains: string[];
  route: string;
  match: string;
  action: string;
}

function routeRows(s: Snapshot): RouteRow[] {
  const rows: RouteRow[] = [];
  const add = (listener: string, vhs: Snapshot['mesh']['virtualHosts']) => {
    for (const vh of vhs)
      for (const r of vh.routes)
        rows.push({
          listener,
          virtualHost: vh.name,
          domains: vh.domains,
          route: r.name ?? r.id,
          match: r.matches.length === 0 ? '*' : r.matches.map(describeMatch).join(' | '),
          action:
            r.action.type === 'route'
              ? r.action.destinations
                  .map(
                    (d) =>
                      `${d.host}${d.subset ? `:${d.subset}` : ''}${r.action.type === 'route' && r.action.destinations.length > 1 ? ` (${d.weight})` : ''}`,
                  )
                  .join(', ')
              : r.action.type === 'redirect'
                ? `redirect ${r.action.code}`
                : `direct ${r.action.status}`,
        });
  };
  for (const g of s.gateways) add(`gateway ${g.name}`, g.virtualHosts);
  add('mesh', s.mesh.virtualHosts);
  return rows;
}

function describeMatch(
  m: Snapshot['mesh']['virtualHosts'][number]['routes'][number]['matches'][number],
): string {
  const parts: string[] = [];
  const sm = (x: { exact: string } | { prefix: string } | { regex: string }) =>
    'exact' in x ? `=${x.exact}` : 'prefix' in x ? `${x.prefix}*` : `~${x.regex}`;
  if (m.uri) parts.push(`uri ${sm(m.uri)}`);
  if (m.method) parts.push(`method ${sm(m.method)}`);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    parts.push(`${k} ${'present' in v ? 'present' : sm(v)}`);
  return parts.join(' & ') || '*';
}

export interface ProxyWaitResult {
  /** The snapshot version waited for (an apply's revision). */
  version: number;
  /** True when every connected proxy ACKed `version` or newer. */
  done: boolean;
  timedOut: boolean;
  proxies: {
    id: string;
    role: string;
    ackedVersion?: number;
    state: 'live' | 'lagging' | 'nacked';
    error?: string;
  }[];
}

const MAX_WAIT_MS = 10 * 60_000;

/**
 * `GET /v1/proxies/wait?version=R&timeoutMs=T`: answers once every connected proxy has ACKed a
 * snapshot version >= R (a snapshot's version is the store revision of its last change, so
 * that means it runs everything applied at R), once a proxy NACKed such a version (it will not
 * catch up by itself), or after T ms. Woken by the hub on every ACK, NACK and disconnect.
 */
async function waitForProxies(
  hub: SnapshotHub,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<ProxyWaitResult> {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const version = Number(q.get('version'));
  const timeoutMs = Number(q.get('timeoutMs') ?? 30_000);
  if (!Number.isInteger(version) || version < 0)
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', 'version must be a non-negative integer');
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0)
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', 'timeoutMs must be a number >= 0');
  const deadline = Date.now() + Math.min(timeoutMs, MAX_WAIT_MS);
  let gone = false;
  res.once('close', () => (gone = true));
  for (;;) {
    const proxies = hub.statuses().map((p) => {
      const live = (p.ackedVersion ?? -1) >= version;
      const nacked = !live && p.nack !== undefined && p.nack.version >= version;
      return {
        id: p.node.id,
        role: p.node.role,
        ...(p.ackedVersion !== undefined ? { ackedVersion: p.ackedVersion } : {}),
        state: live ? ('live' as const) : nacked ? ('nacked' as const) : ('lagging' as const),
        ...(nacked ? { error: p.nack!.error } : {}),
      };
    });
    const lagging = proxies.some((p) => p.state === 'lagging');
    const left = deadline - Date.now();
    if (!lagging || left <= 0 || gone)
      return {
        version,
        done: proxies.every((p) => p.state === 'live'),
        timedOut: lagging,
        proxies,
      };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([hub.nextAck(), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
}
