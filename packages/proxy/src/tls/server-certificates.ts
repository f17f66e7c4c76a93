// Certificates for the gateway's HTTPS listener, read from the PEM files that the Gateways'
// SIMPLE TLS servers name: one SecureContext per server, picked by SNI through a host table
// (exact, then the longest `*.suffix`, then `*`, as for virtual hosts). This runs when a
// snapshot is applied, never per connection. A file that cannot be read or is not valid PEM
// throws an error naming the file and the snapshot field, so the snapshot is NACKed and the
// listener keeps the certificates it has.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { GatewayTlsServer } from '../compile/types.js';
import { createHostTable, type HostTable } from '../routing/host-table.js';

export interface ServerCertificates {
  /** The default context's options (clients without SNI): the first TLS server's files. */
  readonly defaultOptions: SecureContextOptions;
  /** Normalised SNI name -> that server's context. */
  readonly sni: HostTable<SecureContext>;
  /** Things worth a log line: expired certificates, hosts claimed twice. */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** For the validity check (warnings only). */
  now: number;
  /** Injected by tests; reads the whole file. */
  readFile?: (path: string) => Buffer;
}

const CERT_BEGIN = '-----BEGIN CERTIFICATE-----';

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file (ENOENT)',
  EACCES: 'permission denied (EACCES)',
  EISDIR: 'it is a directory (EISDIR)',
};

/** Reads and checks every server's files; undefined when there are no TLS servers. */
export function loadServerCertificates(
  servers: readonly GatewayTlsServer[],
  opts: LoadOptions,
): ServerCertificates | undefined {
  if (servers.length === 0) return undefined;
  const read = opts.readFile ?? readFileSync;
  // Several servers often share one file; read each once per load.
  const files = new Map<string, Buffer>();
  const readOnce = (field: string, path: string): Buffer => {
    let data = files.get(path);
    if (data === undefined) {
      try {
        data = read(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = (code && READ_ERRORS[code]) ?? reason(err);
        throw new Error(`${field}: cannot read "${path}": ${why}`, { cause: err });
      }
      files.set(path, data);
    }
    return data;
  };

  const warnings: string[] = [];
  let defaultOptions: SecureContextOptions | undefined;
  const entries = servers.map((s) => {
    const certField = `${s.field}.serverCertificate`;
    const keyField = `${s.field}.privateKey`;
    const cert = readOnce(certField, s.serverCertificate);
    const key = readOnce(keyField, s.privateKey);
    const ca =
      s.caCertificates === undefined
        ? undefined
        : readOnce(`${s.field}.caCertificates`, s.caCertificates);

    const x509 = parseCertificate(certField, s.serverCertificate, cert);
    if (ca !== undefined) parseCertificate(`${s.field}.caCertificates`, s.caCertificates!, ca);
    const privateKey = parsePrivateKey(keyField, s.privateKey, key);
    if (!x509.checkPrivateKey(privateKey)) {
      throw new Error(
        `${keyField}: the key in "${s.privateKey}" does not belong to the certificate in "${s.serverCertificate}"`,
      );
    }
    const validTo = Date.parse(x509.validTo);
    const validFrom = Date.parse(x509.validFrom);
    if (validTo < opts.now || validFrom > opts.now) {
      warnings.push(
        `${s.name}: certificate "${s.serverCertificate}" is not valid now (valid ${x509.validFrom} to ${x509.validTo}); clients will reject it`,
      );
    }

    const options: SecureContextOptions = { cert, key, ...(ca !== undefined ? { ca } : {}) };
    let context: SecureContext;
    try {
      context = createSecureContext(options);
    } catch (err) {
      throw new Error(
        `${s.field}: cannot use "${s.serverCertificate}" with "${s.privateKey}": ${reason(err)}`,
        { cause: err },
      );
    }
    defaultOptions ??= options;
    return { domains: s.hosts, value: context, name: s.name };
  });

  const { table, duplicates } = createHostTable(entries);
  for (const d of duplicates)
    warnings.push(`SNI name "${d}" is claimed by more than one TLS server; the first one wins`);
  return { defaultOptions: defaultOptions!, sni: table, warnings };
}

function parseCertificate(field: string, path: string, pem: Buffer): X509Certificate {
  if (!pem.includes(CERT_BEGIN)) {
    throw new Error(`${field}: "${path}" is not a PEM certificate (no "${CERT_BEGIN}" line)`);
  }
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(`${field}: "${path}" is not a valid PEM certificate: ${reason(err)}`, {
      cause: err,
    });
  }
}

function parsePrivateKey(field: string, path: string, pem: Buffer): KeyObject {
  if (!pem.includes('-----BEGIN') || !pem.includes('PRIVATE KEY-----')) {
    throw new Error(`${field}: "${path}" is not a PEM private key (no "PRIVATE KEY" block)`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // An encrypted key lands here too: Weft has no passphrase to give it.
    throw new Error(`${field}: "${path}" is not a usable PEM private key: ${reason(err)}`, {
      cause: err,
    });
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
