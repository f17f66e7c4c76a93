// Setting up a locked control plane at start: the API's server certificate from the mesh CA,
// the token book, and the first admin token, written to a 0600 file in the data dir as k3s
// writes its node-token, so that the CLI on this machine can find it.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { MeshCa } from '../ca/mesh-ca.js';
import type { SnapshotHub } from '../distribute/hub.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { ApiAuth } from './server.js';
import { TokenBook } from './tokens.js';
import { hashToken, tokenIdOf } from './auth.js';

export interface ApiTlsOptions {
  /** More DNS names or IPs for the server certificate (how remote clients reach this API). */
  names?: string[];
}

export interface ApiAuthOptions {
  /** Default <dataDir>/admin-token. An existing file's token is accepted as an admin token. */
  adminTokenFile?: string;
  /** Whether reads need no token. Default: when the API listens on loopback only. */
  openReads?: boolean;
}

export interface LockedApi {
  auth?: ApiAuth;
  tls?: { cert: string; key: string };
  files: { caFile?: string; adminTokenFile?: string; adminToken?: string };
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function lockApi(o: {
  store: Store;
  log: Logger;
  ca: MeshCa;
  hub: SnapshotHub;
  dataDir: string;
  host: string;
  tls: ApiTlsOptions | undefined;
  auth: ApiAuthOptions | undefined;
}): Promise<LockedApi> {
  const out: LockedApi = { files: {} };
  if (o.tls) {
    const names = ['127.0.0.1', '::1', 'localhost', hostname(), ...(o.tls.names ?? [])];
    if (!WILDCARDS.has(o.host)) names.push(o.host);
    const { certificate, privateKey } = await o.ca.issueServer(names);
    out.tls = { cert: certificate, key: privateKey };
    const caFile = join(o.dataDir, 'ca.pem');
    mkdirSync(o.dataDir, { recursive: true });
    // The whole trust bundle, not only the signing root: during a root rotation a client that
    // still holds a server certificate chain from the other root must keep verifying.
    writeFileSync(caFile, o.ca.trustBundlePem);
    out.files.caFile = caFile;
  }
  if (o.auth) {
    const tokens = new TokenBook(o.store, o.log);
    await tokens.start();
    tokens.onRevoke((id) => o.hub.closeToken(id));
    out.auth = { tokens, openReads: o.auth.openReads ?? isLoopback(o.host) };
    const file = o.auth.adminTokenFile ?? join(o.dataDir, 'admin-token');
    out.files.adminTokenFile = file;
    if (existsSync(file)) {
      const secret = readFileSync(file, 'utf8').trim();
      if (secret.length < 16)
        throw new Error(`${file} holds no usable admin token (at least 16 characters)`);
      if (tokens.find(tokenIdOf(hashToken(secret))) !== undefined) out.files.adminToken = secret;
      else if (!tokens.hasAdmin()) {
        // The operator's own first admin token.
        await tokens.create({ kind: 'admin', secret, description: `from ${file}` }, Date.now());
        out.files.adminToken = secret;
      } else
        // Never resurrect a token: this one was revoked, or belongs to another mesh.
        o.log.warn(
          { file },
          'the admin token in this file is not known to the store (revoked?); it is not accepted',
        );
    } else {
      // A new data dir (a first start, or another replica on the same etcd) gets its own admin
      // token: whoever can start a control plane on this store holds the store, so this gives
      // them nothing they did not have.
      const first = !tokens.hasAdmin();
      const { token } = await tokens.create(
        { kind: 'admin', description: `${first ? 'first ' : ''}admin token (${file})` },
        Date.now(),
      );
      mkdirSync(dirname(file), { recursive: true });
      // 0600: the admin token is the key to the mesh.
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      out.files.adminToken = token;
      o.log.info({ file }, 'wrote an admin token');
    }
  }
  return out;
}
