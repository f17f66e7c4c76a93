// Where the CLI finds the control plane and the credentials for it, so that nobody types a
// token: flags, then environment, then a context file (as kubectl reads a kubeconfig), then the
// files `weft control` writes into its data dir (./.weft by default, as k3s's node-token).
//
//   URL:   --control, WEFT_CONTROL, the current context, http://127.0.0.1:15010
//   token: --token, WEFT_TOKEN, --token-file, WEFT_TOKEN_FILE, the URL's context, ./.weft/admin-token
//   CA:    --ca, WEFT_CA (PEM files), the URL's context, ./.weft/ca.pem
//
// Contexts live in $WEFT_HOME (default ~/.weft): contexts/<host>_<port>.json names the token and
// CA files for one control plane; current.json names the URL used when none is given. `weft
// demo` writes both and removes them when it stops.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:15010';

export interface Context {
  url: string;
  /** File holding the token (read at each use, so a rotated file is picked up). */
  tokenFile?: string;
  /** PEM file of the root the control plane's certificate chains to. */
  caFile?: string;
}

export interface Credentials {
  token?: string;
  /** PEM text. */
  ca?: string;
  /** Where the PEM came from (Prometheus's config names the file). */
  caFile?: string;
}

export interface CredentialFlags {
  control?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  ca?: string | undefined;
}

export function weftHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.WEFT_HOME ?? join(homedir(), '.weft');
}

function contextFile(url: string, env: NodeJS.ProcessEnv): string {
  const u = new URL(url);
  return join(weftHome(env), 'contexts', `${u.hostname.replace(/[^\w.-]/g, '_')}_${u.port}.json`);
}

function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The control URL: flag, env, current context, default. */
export function controlUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return (
    flag ??
    env.WEFT_CONTROL ??
    readJsonFile<Context>(join(weftHome(env), 'current.json'))?.url ??
    DEFAULT_CONTROL_URL
  );
}

/**
 * The token and CA for `url` (the first of a comma-separated list). `proxy`: a sidecar's or
 * gateway's token comes from its own flags or environment only, never from the operator's
 * context (which holds an admin token); the CA (public) may.
 */
export function credentialsFor(
  url: string,
  flags: CredentialFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  proxy = false,
): Credentials {
  const first = url.split(',')[0]?.trim() ?? url;
  let ctx: Context | undefined;
  try {
    ctx = readJsonFile<Context>(contextFile(first, env));
  } catch {
    // Not a URL: the request will say so.
    ctx = undefined;
  }
  // ./.weft is `weft control`'s default data dir: only for a control plane on this machine, so a
  // local admin token is never sent to another host.
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(safeHost(first));
  const local = (name: string) => {
    const f = join(cwd, '.weft', name);
    return loopback && existsSync(f) ? f : undefined;
  };
  const tokenFile =
    flags.tokenFile ??
    env.WEFT_TOKEN_FILE ??
    (proxy ? undefined : (ctx?.tokenFile ?? local('admin-token')));
  const token = flags.token ?? env.WEFT_TOKEN ?? (tokenFile ? readSecret(tokenFile) : undefined);
  const caFile = flags.ca ?? env.WEFT_CA ?? ctx?.caFile ?? local('ca.pem');
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  return {
    ...(token ? { token } : {}),
    ...(ca && caFile ? { ca, caFile: resolve(caFile) } : {}),
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

function readSecret(file: string): string {
  const t = readFileSync(file, 'utf8').trim();
  if (t === '') throw new Error(`${file} is empty; it should hold a token`);
  return t;
}

/** Writes the context for `ctx.url` and makes it the current one. Returns what to remove later. */
export function saveContext(ctx: Context, env: NodeJS.ProcessEnv = process.env): () => void {
  const file = contextFile(ctx.url, env);
  const current = join(weftHome(env), 'current.json');
  mkdirSync(join(weftHome(env), 'contexts'), { recursive: true, mode: 0o700 });
  const abs: Context = {
    url: ctx.url,
    ...(ctx.tokenFile ? { tokenFile: resolve(ctx.tokenFile) } : {}),
    ...(ctx.caFile ? { caFile: resolve(ctx.caFile) } : {}),
  };
  writeFileSync(file, `${JSON.stringify(abs, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(current, `${JSON.stringify({ url: ctx.url })}\n`, { mode: 0o600 });
  return () => {
    rmSync(file, { force: true });
    // Another demo may have become current since; leave its pointer alone.
    if (readJsonFile<Context>(current)?.url === ctx.url) rmSync(current, { force: true });
  };
}
