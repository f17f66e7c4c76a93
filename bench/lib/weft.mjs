// Weft as a peer: the control plane (on the load core: it is idle while we measure), the
// config and the backend registration through its HTTP API, then the gateway pinned to the
// proxy core. Everything is run from the built CLI, as a user would.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop, waitForReadyLine } from './proc.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEFT = join(ROOT, 'packages/cli/bin/weft.js');

const CONFIG = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bench-gw
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bench
spec:
  hosts: ["*"]
  gateways: [bench-gw]
  http:
    - match:
        - uri: { prefix: / }
      route:
        - destination: { host: backend }
`;

class WeftSetupError extends Error {}

/**
 * Starts control plane + gateway routing everything to the backend on `backendPort`.
 * Throws a WeftSetupError whose message says which step failed and what Weft answered.
 */
export async function startWeft({
  tmp,
  backendPort,
  proxyCpu,
  loadCpu,
  proxyNodeArgs = [],
  // Extra `weft gateway` flags (telemetry-cost: access log, tracing).
  gatewayArgs = [],
  // Run this script (argv: CONTROL_URL ID) instead of `weft gateway` (telemetry-cost: no telemetry).
  gatewayScript,
  // Extra environment for the gateway process.
  gatewayEnv = {},
}) {
  if (!existsSync(join(ROOT, 'packages/cli/dist/main.js'))) {
    throw new WeftSetupError(
      'packages/cli/dist/main.js is missing: `npm run build` did not produce the CLI',
    );
  }
  const env = WEFT_ENV;
  const procs = [];
  try {
    const { proc: control, url } = await startControl({ tmp, cpu: loadCpu });
    procs.push(control);

    // Register the backend first, so that the apply does not warn that `backend` is unknown.
    await api(url, '/v1/instances', {
      service: 'backend',
      address: '127.0.0.1',
      port: backendPort,
      id: 'backend-1',
      ttlSeconds: 3600,
    });
    // A config error is an HTTP 400 with every violation (thrown above); warnings name fields
    // Weft does not support, which would change what is measured, so they are shown.
    const applied = await api(url, '/v1/apply', {
      files: [{ path: 'bench.yaml', content: CONFIG }],
    });
    if (applied?.warnings?.length)
      process.stderr.write(`bench: weft apply warnings: ${JSON.stringify(applied.warnings)}\n`);

    const gw = start(
      'weft-gateway',
      process.execPath,
      gatewayScript !== undefined
        ? [...proxyNodeArgs, gatewayScript, url, 'bench-gw']
        : [
            ...proxyNodeArgs,
            WEFT,
            '--control',
            url,
            'gateway',
            '--host',
            '127.0.0.1',
            '--port',
            '0',
            '--id',
            'bench-gw',
            ...gatewayArgs,
          ],
      { cpu: proxyCpu, env: { ...env, ...gatewayEnv } },
    );
    procs.push(gw);
    const gready = await waitForReadyLine(gw, {
      accept: (o) => o?.event === 'ready' && o.role === 'gateway',
      timeoutMs: 20000,
    });
    return { proc: gw, port: gready.port, ready: gready, extra: [control], controlUrl: url };
  } catch (err) {
    for (const p of procs.reverse()) await stop(p);
    throw err instanceof WeftSetupError ? err : new WeftSetupError(err.message);
  }
}

const WEFT_ENV = { WEFT_LOG_LEVEL: 'warn' };

/** `weft control` on 127.0.0.1 with its data under `tmp`: { proc, url }. */
export async function startControl({ tmp, cpu }) {
  const proc = start(
    'weft-control',
    process.execPath,
    // --insecure: plain HTTP and no tokens, as before the API was locked (loopback only).
    [
      WEFT,
      'control',
      '--insecure',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      join(tmp, 'weft-data'),
    ],
    { cpu, env: WEFT_ENV },
  );
  try {
    const ready = await waitForReadyLine(proc, {
      accept: (o) => o?.event === 'ready' && o.role === 'control',
    });
    return { proc, url: ready.url ?? `http://127.0.0.1:${ready.port}` };
  } catch (err) {
    await stop(proc);
    throw new WeftSetupError(err.message);
  }
}

/**
 * `weft sidecar` for `service` with its app at `appPort`, pinned to `cpu`; resolves with
 * { proc, inboundPort, outboundPort, admin } once the instance is registered.
 */
export async function startSidecarProc({ controlUrl, service, appPort, cpu, args = [] }) {
  const proc = start(
    `weft-sidecar-${service}`,
    process.execPath,
    [
      WEFT,
      '--control',
      controlUrl,
      'sidecar',
      '--service',
      service,
      '--id',
      `${service}-1`,
      '--app-port',
      String(appPort),
      '--ttl',
      '60',
      ...args,
    ],
    { cpu, env: WEFT_ENV },
  );
  try {
    const ready = await waitForReadyLine(proc, {
      accept: (o) => o?.event === 'ready' && o.role === 'sidecar',
      timeoutMs: 20000,
    });
    await waitForReadyLine(proc, {
      accept: (o) => o?.event === 'registered',
      timeoutMs: 20000,
    });
    return {
      proc,
      inboundPort: ready.inboundPort,
      outboundPort: ready.outboundPort,
      admin: ready.admin,
    };
  } catch (err) {
    await stop(proc);
    throw new WeftSetupError(`sidecar ${service}: ${err.message}`);
  }
}

/** POST a JSON body to the control plane's API; the parsed answer, or a WeftSetupError. */
export async function api(base, path, body) {
  let res;
  try {
    res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
  } catch (err) {
    throw new WeftSetupError(`POST ${path}: ${err.message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new WeftSetupError(`POST ${path}: HTTP ${res.status}: ${text.slice(0, 1000)}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
