// The `weft` command. Every subcommand has --help; errors go to stderr with a non-zero exit.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ApiError, createApi } from './api-client.js';
import { applyCommand, deleteCommand, getCommand, GET_TARGETS } from './commands/config.js';
import { dashboardCommand, dashboardDir } from './commands/dashboard.js';
import { parseHeader, parseLabel } from './commands/explain.js';
import { parseFormat } from './output.js';
import type { CreateFlags } from './commands/token.js';
import { parseDurationMs } from '@weft/model';
import {
  controlUrl,
  credentialsFor,
  DEFAULT_CONTROL_URL,
  saveContext,
  type CredentialFlags,
} from './credentials.js';

function collectLabel(v: string, prev: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new Error(`--label needs KEY=VALUE, got "${v}"`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`"${v}" is not a port number (0-65535)`);
  return n;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`"${v}" must be a positive number`);
  return n;
}

function duration(v: string): number {
  // A bare number is seconds, as `timeout 30` reads.
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : parseDurationMs(v);
  // InvalidArgumentError: commander names the option in the message.
  if (ms === undefined || !(ms > 0))
    throw new InvalidArgumentError(`"${v}" is not a duration (e.g. 30s, 2m)`);
  return ms;
}

function ttlSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3600)
    throw new InvalidArgumentError(`"${v}" is not a TTL in whole seconds from 1 to 3600`);
  return n;
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new InvalidArgumentError(`"${v}" must be a whole number from 1 to 100`);
  return n;
}

function explainFormat(v: string): 'text' | 'json' {
  if (v === 'text' || v === 'json') return v;
  throw new Error(`unknown output format "${v}"; use text or json`);
}

function wholeNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`"${v}" must be a whole number >= 0`);
  return n;
}

function topBy(v: string): 'service' | 'route' {
  if (v === 'service' || v === 'route') return v;
  throw new Error(`--by "${v}": use service or route`);
}

function topFormat(v: string): 'table' | 'json' {
  if (v === 'table' || v === 'json') return v;
  throw new Error(`unknown output format "${v}"; use table or json`);
}

function ready(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ event: 'ready', ...fields })}\n`);
}

/** Runs until SIGINT/SIGTERM, then closes cleanly once. */
function untilSignal(close: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = () => {
      if (closing) return;
      closing = true;
      close().then(
        () => resolve(0),
        (err: Error) => {
          process.stderr.write(`weft: error while stopping: ${err.message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

interface TelemetryFlags {
  adminPort: number;
  adminHost: string;
  accessLog?: string;
  accessLogFormat: string;
}

/** The flags both proxies take for their admin listener and access log. */
function telemetryOptions(cmd: Command): Command {
  return cmd
    .option(
      '--admin-port <port>',
      'admin listener: metrics at /stats/prometheus, tap (0 = any free port; Istio uses 15090)',
      port,
      0,
    )
    .option('--admin-host <host>', 'address of the admin listener', '127.0.0.1')
    .option('--access-log <file>', 'write one line per request to FILE (- for stdout)')
    .option(
      '--access-log-format <format>',
      'json, text, or a template of Envoy operators such as "%RESPONSE_CODE% %DURATION%"',
      'json',
    );
}

interface HardeningFlags {
  numTrustedProxies?: number;
  maxRequestBody?: number;
  headersTimeout?: number;
}

/** Input hardening and client-address trust for a proxy's listeners (docs/security.md). */
function hardeningOptions(cmd: Command): Command {
  return cmd
    .option(
      '--num-trusted-proxies <n>',
      "X-Forwarded-For hops to trust for the client address (Istio's numTrustedProxies)",
      wholeNumber,
    )
    .option(
      '--max-request-body <bytes>',
      'largest request body accepted; 413 above (0 = no limit; default 64 MiB)',
      wholeNumber,
    )
    .option(
      '--headers-timeout <duration>',
      "a request's headers must arrive within this, or 408 (default 10s)",
      duration,
    );
}

type ProxyFlags = TelemetryFlags & HardeningFlags;

function hardeningFrom(o: HardeningFlags) {
  const limits = {
    ...(o.maxRequestBody !== undefined ? { maxBodyBytes: o.maxRequestBody } : {}),
    ...(o.headersTimeout !== undefined ? { headersTimeoutMs: o.headersTimeout } : {}),
  };
  return {
    ...(o.numTrustedProxies !== undefined ? { numTrustedProxies: o.numTrustedProxies } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function telemetryFrom(o: TelemetryFlags) {
  return {
    adminPort: o.adminPort,
    adminHost: o.adminHost,
    ...(o.accessLog !== undefined ? { accessLog: o.accessLog } : {}),
    accessLogFormat: o.accessLogFormat,
  };
}

const CONTROL_PLANE_HELP =
  'control plane replicas, comma-separated URLs; the proxy moves to another when one dies (default: --control)';

function list(v: string): string[] {
  const items = v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (items.length === 0) throw new Error(`"${v}" names nothing; give NAME[,NAME...]`);
  return items;
}

const STORE_HELP =
  'etcd://host:port[,host:port...] for etcd, file://<path> for a store file (default: <data-dir>/weft.db)';

interface ControlFlags {
  host: string;
  port: number;
  dataDir: string;
  store?: string;
  etcdPrefix: string;
  insecure?: boolean;
  context: boolean;
  adminTokenFile?: string;
  tlsName: string[];
  reads?: 'open' | 'token';
  caCert?: string;
  caKey?: string;
  caTrust: string[];
}

interface SidecarFlags extends TelemetryFlags, HardeningFlags {
  service: string;
  appPort?: number;
  appHost: string;
  host: string;
  inboundPort: number;
  outboundPort: number;
  id?: string;
  controlPlane?: string;
  upstreams?: string[];
  learnUpstreams?: boolean;
  learnHold: number;
  namespace: string;
  label: Record<string, string>;
  ttl: number;
  healthPath?: string;
  healthInterval: number;
  healthTimeout: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  propagationTimeout: number;
  drainTimeout: number;
  appStopGrace: number;
  probeInterval?: number;
  otlpEndpoint?: string;
  traceSampling?: number;
}

interface DemoFlags {
  port: number;
  dataDir?: string;
  store?: string;
  etcdPrefix: string;
  otlpEndpoint?: string;
  traceSampling?: number;
}

/** `--trace-sampling`: 0 to 100 (percent). */
function samplingPercent(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new Error(`"${v}" is not a percentage from 0 to 100 (Istio's default is 1)`);
  return n;
}

const OTLP_HELP =
  'send traces over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318 (default: tracing off)';
const SAMPLING_HELP =
  'percent of new traces to sample; a sampled flag from upstream wins (default 1, as Istio)';

/** The tracing part of a proxy's options, when --otlp-endpoint was given. */
function tracingFlags(o: { otlpEndpoint?: string; traceSampling?: number }) {
  if (o.otlpEndpoint === undefined) return {};
  return {
    tracing: {
      otlpEndpoint: o.otlpEndpoint,
      ...(o.traceSampling !== undefined ? { samplingPercent: o.traceSampling } : {}),
    },
  };
}

export function buildProgram(): Command {
  const program = new Command('weft')
    .description('Weft service mesh: control plane, proxies and CLI')
    .addOption(
      new Option(
        '--control <url>',
        `control plane URL (default: the current context, else ${DEFAULT_CONTROL_URL})`,
      ).env('WEFT_CONTROL'),
    )
    .addOption(
      new Option('--token <token>', 'API token (a locked control plane)').env('WEFT_TOKEN'),
    )
    .addOption(
      new Option('--token-file <file>', 'read the API token from FILE').env('WEFT_TOKEN_FILE'),
    )
    .addOption(
      new Option('--ca <file>', "PEM root the control plane's certificate chains to").env(
        'WEFT_CA',
      ),
    )
    .showHelpAfterError()
    // `weft sidecar --help` lists --token-file and --ca too: they are global options.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();

  program
    .command('control')
    .description('run the control plane (API, registry, snapshot stream)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 15010)
    .option('--data-dir <dir>', 'folder for the embedded store', '.weft')
    .option('--store <url>', STORE_HELP)
    .option('--etcd-prefix <prefix>', "where Weft's keys live in etcd", '/weft/')
    .option('--no-dashboard', 'serve no dashboard and read no proxy metrics for it')
    .option(
      '--no-context',
      'do not write the CLI context ($WEFT_HOME/contexts, default ~/.weft) that points at this control plane',
    )
    .option(
      '--insecure',
      'serve plain HTTP with no tokens: anyone who reaches the API can change the mesh',
    )
    .option(
      '--admin-token-file <file>',
      'the admin token: written there on first start, accepted when it exists (default <data-dir>/admin-token)',
    )
    .option(
      '--tls-name <name>',
      'another DNS name or IP for the API certificate (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--reads <who>',
      'who may read state (config, instances, dashboard): open or token (default: open when --host is loopback)',
      (v: string) => {
        if (v !== 'open' && v !== 'token') throw new InvalidArgumentError('use open or token');
        return v;
      },
    )
    .option('--ca-cert <file>', 'sign workload certificates with this root (PEM; with --ca-key)')
    .option('--ca-key <file>', "the root's key (PKCS#8 PEM, ECDSA P-256)")
    .option(
      '--ca-trust <file>',
      'another root for the trust bundle (repeatable): how a root is rotated, docs/security.md',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (o: ControlFlags & { dashboard: boolean }) => {
      if ((o.caCert === undefined) !== (o.caKey === undefined))
        throw new InvalidArgumentError('--ca-cert and --ca-key go together');
      // Loaded on use: `weft get` should not pay for SQLite and the proxy at start-up.
      const { startControlPlane } = await import('@weft/control-plane');
      // Admission runs the proxies' own compile step, so accepted config is config every
      // proxy can apply (the control plane package cannot import the proxy's).
      const { checkSnapshot } = await import('@weft/proxy');
      const cp = await startControlPlane({
        dataDir: o.dataDir,
        host: o.host,
        port: o.port,
        storeUrl: o.store,
        etcdPrefix: o.etcdPrefix,
        admit: (s) => void checkSnapshot(s),
        dashboard: o.dashboard === false ? false : { dir: dashboardDir() },
        ...(o.caCert !== undefined && o.caKey !== undefined
          ? { caRoot: { certFile: o.caCert, keyFile: o.caKey } }
          : {}),
        caTrust: o.caTrust,
        ...(o.insecure
          ? {}
          : {
              tls: { names: o.tlsName },
              auth: {
                ...(o.adminTokenFile ? { adminTokenFile: o.adminTokenFile } : {}),
                ...(o.reads ? { openReads: o.reads === 'open' } : {}),
              },
            }),
      });
      // Like k3s's kubeconfig: the CLI on this machine finds the URL, the CA and the admin token.
      const forget =
        o.insecure || !o.context
          ? () => undefined
          : saveContext({
              url: cp.url.replace(/\/\/(0\.0\.0\.0|\[::\]):/, '//127.0.0.1:'),
              ...(cp.adminToken ? { tokenFile: cp.adminTokenFile } : {}),
              ...(cp.caFile ? { caFile: cp.caFile } : {}),
            });
      ready({
        role: 'control',
        port: cp.port,
        url: cp.url,
        ...(cp.caFile ? { caFile: cp.caFile } : {}),
        ...(cp.adminTokenFile ? { adminTokenFile: cp.adminTokenFile } : {}),
      });
      process.exitCode = await untilSignal(async () => {
        forget();
        await cp.close();
      });
    });

  hardeningOptions(telemetryOptions(program.command('gateway')))
    .description('run a gateway proxy that serves the Gateways its labels select')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 8080)
    .option(
      '--https-port <port>',
      'HTTPS listener for SIMPLE TLS servers (0 = any free port; default: none)',
      port,
    )
    .option('--id <id>', 'proxy id shown by proxy-status')
    .option('--control-plane <urls>', CONTROL_PLANE_HELP)
    .option('--namespace <ns>', 'namespace of the gateway', 'default')
    .option(
      '--label <k=v>',
      'gateway label (repeatable; default istio=ingressgateway)',
      collectLabel,
      {},
    )
    .option('--otlp-endpoint <url>', OTLP_HELP)
    .option('--trace-sampling <percent>', SAMPLING_HELP, samplingPercent)
    .action(
      async (
        o: ProxyFlags & {
          otlpEndpoint?: string;
          traceSampling?: number;
          host: string;
          port: number;
          httpsPort?: number;
          id?: string;
          controlPlane?: string;
          namespace: string;
          label: Record<string, string>;
        },
      ) => {
        const { startGateway } = await import('@weft/proxy');
        const gw = await startGateway({
          ...telemetryFrom(o),
          ...proxyControl(o.controlPlane),
          host: o.host,
          port: o.port,
          ...(o.httpsPort !== undefined ? { httpsPort: o.httpsPort } : {}),
          namespace: o.namespace,
          labels: Object.keys(o.label).length > 0 ? o.label : { istio: 'ingressgateway' },
          ...(o.id ? { id: o.id } : {}),
          ...tracingFlags(o),
          ...hardeningFrom(o),
        });
        await gw.ready;
        ready({
          role: 'gateway',
          id: gw.id,
          port: gw.port,
          httpsPort: gw.httpsPort,
          admin: gw.adminAddress,
        });
        process.exitCode = await untilSignal(() => gw.close());
      },
    );

  hardeningOptions(telemetryOptions(program.command('sidecar')))
    .description(
      'run the sidecar proxy beside one app instance; with `-- CMD ARGS`, start the app as its child',
    )
    .argument(
      '[command...]',
      'after --: the command that starts the app (given PORT, WEFT_OUTBOUND)',
    )
    .requiredOption('--service <name>', 'service the app belongs to')
    .option('--app-port <port>', "the app's port (default with a command: a free port)", port)
    .option('--app-host <host>', "the app's address", '127.0.0.1')
    .option('--host <host>', 'address the sidecar listens on', '127.0.0.1')
    .option('--inbound-port <port>', 'inbound listener (0 = any free port)', port, 0)
    .option('--outbound-port <port>', 'outbound listener for the app (0 = any free port)', port, 0)
    .option('--id <id>', 'instance id (default SERVICE-PID)')
    .option('--control-plane <urls>', CONTROL_PLANE_HELP)
    .option(
      '--upstreams <services>',
      'services the app calls, comma-separated: only their config is sent (default: all)',
      list,
    )
    .option(
      '--learn-upstreams',
      'learn the scope from traffic: start with --upstreams (or none) and add each host the app calls',
    )
    .option(
      '--learn-hold <duration>',
      'learn mode: how long a call to a new host waits for its config',
      duration,
      2_000,
    )
    .option('--namespace <ns>', 'namespace of the service', 'default')
    .option('--label <k=v>', 'instance label, e.g. version=v1 (repeatable)', collectLabel, {})
    .option('--ttl <seconds>', 'registration lease TTL in whole seconds (1-3600)', ttlSeconds, 10)
    .option('--health-path <path>', 'health check: HTTP GET this path (default: a TCP connect)')
    .option(
      '--health-interval <duration>',
      'health check interval, e.g. 10s, 500ms',
      duration,
      10_000,
    )
    .option('--health-timeout <duration>', 'one health check may take this long', duration, 1_000)
    .option('--healthy-threshold <n>', 'successes in a row that make the app healthy', count, 1)
    .option('--unhealthy-threshold <n>', 'failures in a row that make it unhealthy', count, 3)
    .option(
      '--propagation-timeout <duration>',
      'on SIGTERM: how long to wait for every proxy to drop this instance',
      duration,
      5_000,
    )
    .option(
      '--drain-timeout <duration>',
      'on SIGTERM: how long in-flight requests get',
      duration,
      5_000,
    )
    .option(
      '--app-stop-grace <duration>',
      "on SIGTERM: between the app's SIGTERM and its SIGKILL",
      duration,
      10_000,
    )
    .addOption(
      // Kept for scripts written before --health-interval; milliseconds.
      new Option('--probe-interval <ms>', 'same as --health-interval, in ms')
        .argParser(positive)
        .hideHelp(),
    )
    .option('--otlp-endpoint <url>', OTLP_HELP)
    .option('--trace-sampling <percent>', SAMPLING_HELP, samplingPercent)
    .action(async (command: string[], o: SidecarFlags) => {
      if (o.appPort === undefined && command.length === 0)
        throw new Error('give --app-port, or the command that starts the app after --');
      const { startSidecar } = await import('@weft/proxy');
      const sc = await startSidecar({
        ...telemetryFrom(o),
        ...proxyControl(o.controlPlane),
        ...(o.upstreams ? { upstreams: o.upstreams } : {}),
        ...(o.learnUpstreams ? { learnUpstreams: true, learnHoldMs: o.learnHold } : {}),
        service: o.service,
        namespace: o.namespace,
        ...(o.appPort !== undefined ? { appPort: o.appPort } : {}),
        appHost: o.appHost,
        host: o.host,
        inboundPort: o.inboundPort,
        outboundPort: o.outboundPort,
        labels: o.label,
        ttlSeconds: o.ttl,
        healthCheck: {
          intervalMs: o.probeInterval ?? o.healthInterval,
          timeoutMs: o.healthTimeout,
          healthyThreshold: o.healthyThreshold,
          unhealthyThreshold: o.unhealthyThreshold,
          ...(o.healthPath !== undefined ? { httpPath: o.healthPath } : {}),
        },
        propagationTimeoutMs: o.propagationTimeout,
        drainTimeoutMs: o.drainTimeout,
        appStopGraceMs: o.appStopGrace,
        ...(command.length > 0 ? { appCommand: command } : {}),
        ...(o.id ? { id: o.id } : {}),
        ...tracingFlags(o),
        ...hardeningFrom(o),
      });
      await sc.ready;
      ready({
        role: 'sidecar',
        id: sc.id,
        inboundPort: sc.inboundPort,
        outboundPort: sc.outboundPort,
        appPort: sc.appPort,
        admin: sc.adminAddress,
        ...(sc.appPid !== undefined ? { appPid: sc.appPid } : {}),
      });
      void sc.registered.then(() =>
        process.stdout.write(`${JSON.stringify({ event: 'registered', id: sc.id })}\n`),
      );
      let stopping = false;
      process.exitCode = await new Promise<number>((resolve) => {
        void untilSignal(() => {
          stopping = true;
          return sc.close();
        }).then(resolve);
        // An app that ends by itself ends its sidecar too, as a container's main process
        // does: deregister, drain, exit with the app's status.
        void sc.appExited?.then(async (e) => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(
            `weft sidecar: the app exited (${e.signal ?? `code ${e.code}`}); stopping\n`,
          );
          await sc.close();
          resolve(e.code === 0 ? 0 : 1);
        });
      });
    });

  program
    .command('apply')
    .description('apply Istio YAML (multi-document files or a folder); all or nothing')
    .requiredOption('-f, --filename <path...>', 'file, folder, or - for stdin')
    .option('--dry-run', 'validate on the control plane without storing')
    .option('--wait', 'return once every connected proxy runs the applied config')
    .option('--timeout <duration>', 'how long --wait waits, e.g. 30s, 2m', duration, 30_000)
    .action(
      async (o: { filename: string[]; dryRun?: boolean; wait?: boolean; timeout: number }) => {
        process.exitCode = await applyCommand(api(), o.filename, { ...o, timeoutMs: o.timeout });
      },
    );

  program
    .command('analyze')
    .description(
      'check YAML offline (no control plane): validation, what proxies would reject, dangling references',
    )
    .requiredOption('-f, --filename <path...>', 'file, folder, or - for stdin')
    .action(async (o: { filename: string[] }) => {
      const { analyzeCommand } = await import('./commands/analyze.js');
      process.exitCode = await analyzeCommand(o.filename);
    });

  program
    .command('explain')
    .description(
      'which route, destination, cluster and endpoints a proxy picks for a request, and why earlier routes did not match',
    )
    .argument('<method>', 'GET, POST, ...')
    .argument('<url>', "http://HOST[:PORT]/PATH?QUERY, or /PATH with -H 'Host: NAME'")
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", parseHeader, [])
    .option(
      '-f, --filename <path...>',
      'explain offline against these files, not the control plane',
    )
    .option('--gateway <name>', 'as the gateway serving this Gateway (default: the gateway view)')
    .option('--from <service>', 'as the sidecar of SERVICE (outbound view), not the gateway')
    .option(
      '--label <key=value>',
      'a label of the --from instance, for sourceLabels matches (repeatable; labels all its instances share are known)',
      parseLabel,
      [],
    )
    .option('-o, --output <format>', 'text or json', explainFormat, 'text' as const)
    .action(
      async (
        method: string,
        url: string,
        o: {
          header: string[];
          filename?: string[];
          gateway?: string;
          from?: string;
          label: string[];
          output: 'text' | 'json';
        },
      ) => {
        const { explainCommand } = await import('./commands/explain.js');
        process.exitCode = await explainCommand(api(), method, url, o);
      },
    );

  program
    .command('get')
    .description(`list ${GET_TARGETS.join(', ')}`)
    .argument('<what>', GET_TARGETS.join('|'))
    .argument('[name]', 'one resource by name (config kinds) or one service (instances)')
    .option('-o, --output <format>', 'table, json or yaml', parseFormat, 'table' as const)
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-w, --watch', 'instances only: print every change as it happens, until Ctrl-C')
    .action(
      async (
        what: string,
        name: string | undefined,
        o: { output: 'table' | 'json' | 'yaml'; namespace: string; watch?: boolean },
      ) => {
        if (o.watch) {
          if (!/^inst(ance)?s?$/.test(what.toLowerCase()))
            throw new Error(`--watch works with instances only, not "${what}"`);
          const { watchInstancesCommand } = await import('./commands/watch.js');
          const stop = new AbortController();
          process.once('SIGINT', () => stop.abort());
          process.once('SIGTERM', () => stop.abort());
          process.exitCode = await watchInstancesCommand(
            api(),
            name,
            o.output,
            undefined,
            stop.signal,
          );
          return;
        }
        process.exitCode = await getCommand(api(), what, name, o.output, o.namespace);
      },
    );

  program
    .command('delete')
    .description('delete a resource: KIND NAME, or every resource in -f files')
    .argument('[args...]', 'KIND NAME')
    .option('-f, --filename <path...>', 'delete what these files define')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (args: string[], o: { filename?: string[]; namespace: string }) => {
      process.exitCode = await deleteCommand(api(), args, o);
    });

  program
    .command('proxy-status')
    .description('which snapshot version each proxy runs')
    .option('-o, --output <format>', 'table, json or yaml', parseFormat, 'table' as const)
    .action(async (o: { output: 'table' | 'json' | 'yaml' }) => {
      process.exitCode = await getCommand(api(), 'proxies', undefined, o.output, 'default');
    });

  program
    .command('prometheus-config')
    .description(
      'print a Prometheus configuration that scrapes the control plane and every proxy (found through the control plane)',
    )
    .option('--scrape-interval <duration>', 'Prometheus scrape interval', '15s')
    .option(
      '--file-sd <file>',
      'write the proxy targets to FILE (file_sd_configs) instead of HTTP discovery',
    )
    .option('--watch', 'with --file-sd: keep the file current until stopped')
    .option('--refresh <duration>', 'how often targets are re-read', duration, 5_000)
    .action(
      async (o: { scrapeInterval: string; fileSd?: string; watch?: boolean; refresh: number }) => {
        if (!/^\d+(ms|s|m|h)$/.test(o.scrapeInterval))
          throw new Error(
            `--scrape-interval "${o.scrapeInterval}" is not a Prometheus duration (e.g. 15s)`,
          );
        const { prometheusConfigCommand } = await import('./commands/prometheus-config.js');
        process.exitCode = await prometheusConfigCommand(
          api(),
          {
            scrapeInterval: o.scrapeInterval,
            refreshMs: o.refresh,
            ...(o.fileSd !== undefined ? { fileSd: o.fileSd } : {}),
            ...(o.watch ? { watch: true } : {}),
          },
          untilSignal,
        );
      },
    );

  program
    .command('top')
    .description(
      'golden metrics per service or route, live: requests/s, success rate, p50/p95/p99 (like linkerd viz stat)',
    )
    .option('--by <what>', 'service or route', topBy, 'service' as const)
    .option('--interval <duration>', 'refresh interval', duration, 2_000)
    .option('--iterations <n>', 'stop after N refreshes (default: until Ctrl-C)', wholeNumber, 0)
    .option(
      '-o, --output <format>',
      'table or json (one line per refresh)',
      topFormat,
      'table' as const,
    )
    .action(
      async (o: {
        by: 'service' | 'route';
        interval: number;
        iterations: number;
        output: 'table' | 'json';
      }) => {
        const { topCommand } = await import('./commands/top.js');
        process.exitCode = await topCommand(api(), {
          by: o.by,
          intervalMs: o.interval,
          iterations: o.iterations,
          output: o.output,
        });
      },
    );

  program
    .command('tap')
    .description('a live stream of the requests to SERVICE: timing, status, where each went')
    .argument('<service>', 'short service name, e.g. order')
    .option('--path <prefix>', 'only paths starting with PREFIX')
    .option('--status <status>', 'only this status (503) or class (5xx)')
    .option('--max <n>', 'stop after N requests (default: no limit)', wholeNumber, 0)
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)', duration)
    .option(
      '-o, --output <format>',
      'text or json (one line per request)',
      explainFormat,
      'text' as const,
    )
    .action(
      async (
        service: string,
        o: {
          path?: string;
          status?: string;
          max: number;
          duration?: number;
          output: 'text' | 'json';
        },
      ) => {
        const { tapCommand } = await import('./commands/tap.js');
        process.exitCode = await tapCommand(api(), service, {
          ...(o.path !== undefined ? { path: o.path } : {}),
          ...(o.status !== undefined ? { status: o.status } : {}),
          max: o.max,
          durationMs: o.duration ?? 0,
          output: o.output,
        });
      },
    );

  program
    .command('dashboard')
    .description('print the dashboard URL (served by the control plane) and open it in a browser')
    .option('--no-open', 'only print the URL')
    .action(async (o: { open: boolean }) => {
      process.exitCode = await dashboardCommand(api(), o, (l) => process.stdout.write(`${l}\n`));
    });

  program
    .command('ca')
    .description('the mesh certificate authority')
    .command('create-root')
    .description(
      'write a new mesh root (root-cert.pem, root-key.pem) into DIR, for `weft control --ca-cert/--ca-key/--ca-trust`',
    )
    .argument('<dir>', 'folder to write to (made if missing; existing files are not overwritten)')
    .option('--trust-domain <domain>', 'the trust domain named in the root', 'cluster.local')
    .action(async (dir: string, o: { trustDomain: string }) => {
      const { createRootCommand } = await import('./commands/ca.js');
      process.exitCode = await createRootCommand(dir, o.trustDomain, (l) =>
        process.stdout.write(`${l}\n`),
      );
    });

  const token = program
    .command('token')
    .description('API tokens of a locked control plane: create, list, revoke (admin only)');
  token
    .command('create')
    .description(
      'make a token and print it (only now): --service S for a sidecar (bootstrap), --admin for operators',
    )
    .option(
      '--service <name>',
      'a bootstrap token: may register and get certificates as SERVICE only',
    )
    .option('--namespace <ns>', "the bootstrap token's namespace", 'default')
    .option('--admin', 'an admin token: may change config and manage tokens')
    .option('--ttl <duration>', 'expires after this long, e.g. 24h (default: never)')
    .option('--description <text>', 'shown by `weft token list`')
    .option('-o, --output <format>', 'token (the secret alone) or json', (v: string) => {
      if (v !== 'token' && v !== 'json') throw new InvalidArgumentError('use token or json');
      return v;
    })
    .action(async (o: CreateFlags) => {
      if (o.ttl !== undefined) duration(o.ttl);
      const { tokenCreateCommand } = await import('./commands/token.js');
      process.exitCode = await tokenCreateCommand(api(), o);
    });
  token
    .command('list')
    .description('every token: id, kind, scope, created, expiry, last use (never the secret)')
    .option('-o, --output <format>', 'table, json or yaml', parseFormat, 'table' as const)
    .action(async (o: { output: 'table' | 'json' | 'yaml' }) => {
      const { tokenListCommand } = await import('./commands/token.js');
      process.exitCode = await tokenListCommand(api(), o.output);
    });
  token
    .command('revoke')
    .description('revoke a token by id: its next request is refused and its streams close')
    .argument('<id>', 'the id `weft token list` shows')
    .action(async (id: string) => {
      const { tokenRevokeCommand } = await import('./commands/token.js');
      process.exitCode = await tokenRevokeCommand(api(), id);
    });

  program
    .command('demo')
    .description("run the seed's mesh: control plane, gateway, user/order/stock with sidecars")
    .option('--port <port>', 'gateway port', port, 8080)
    .option('--data-dir <dir>', 'folder for the store and logs (default: a new temporary folder)')
    .option('--store <url>', STORE_HELP)
    .option('--etcd-prefix <prefix>', "where Weft's keys live in etcd", '/weft/')
    .option('--otlp-endpoint <url>', `${OTLP_HELP}; every proxy of the demo sends its spans there`)
    .option(
      '--trace-sampling <percent>',
      'percent of requests the gateway samples (default with --otlp-endpoint: 100, so that every demo request shows)',
      samplingPercent,
    )
    .action(async (o: DemoFlags) => {
      const say = (l: string) => process.stdout.write(`${l}\n`);
      say('Starting the Weft demo mesh…');
      const { startDemo } = await import('./demo/demo.js');
      const demo = await startDemo({
        port: o.port,
        ...(o.dataDir ? { dataDir: o.dataDir } : {}),
        ...(o.store ? { store: o.store, etcdPrefix: o.etcdPrefix } : {}),
        ...tracingFlags({ ...o, traceSampling: o.traceSampling ?? 100 }),
        say,
      });
      const g = `http://127.0.0.1:${demo.gatewayPort}`;
      say('');
      say('The mesh is up. Try:');
      say(`  curl -s -H 'Host: my-service' ${g}/user`);
      say(
        `  curl -s -H 'Host: my-service' ${g}/order     # order calls user and stock through its sidecar`,
      );
      say(`  curl -s -H 'Host: my-service' ${g}/stock`);
      say(
        `  curl -si ${g}/user                            # no Host: my-service -> 404 from the gateway`,
      );
      // The control plane wrote the current context: no --control, token or CA to type.
      say('  npx weft get services');
      say('  npx weft get routes');
      say('  npx weft proxy-status');
      say('  npx weft top                     # live golden metrics');
      say('  npx weft tap order               # live requests to order');
      say(
        '  npx weft token list              # the admin and bootstrap tokens (never the secrets)',
      );
      say('  npx weft prometheus-config > prometheus.yml');
      say(
        `Dashboard: ${demo.controlUrl}/dashboard/  (the API's certificate is from the mesh CA: trust ${demo.caFile} or accept the warning)`,
      );
      say(
        `Locked: admin token in ${demo.adminTokenFile}; mTLS STRICT mesh-wide (examples/seed/mtls-strict.yaml).`,
      );
      say(`Logs and access logs: ${demo.dataDir}/logs   Stop with Ctrl-C.`);
      process.exitCode = await untilSignal(async () => {
        say('Stopping…');
        await demo.stop();
      });
    });

  const control = () => controlUrl(program.opts<CredentialFlags>().control);
  /** A proxy's control URL and credentials (its own token only; see credentials.ts). */
  const proxyControl = (flag: string | undefined) => {
    const url = flag ?? control();
    const credentials = credentialsFor(
      url,
      program.opts<CredentialFlags>(),
      process.env,
      process.cwd(),
      true,
    );
    return { control: url, ...(credentials.token || credentials.ca ? { credentials } : {}) };
  };
  const api = () => {
    const url = control();
    return createApi(url, credentialsFor(url, program.opts<CredentialFlags>()));
  };
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ApiError) {
      process.stderr.write(`weft: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
      return 1;
    }
    process.stderr.write(`weft: ${(err as Error).message}\n`);
    return 1;
  }
}
