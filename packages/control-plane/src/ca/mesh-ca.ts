// The mesh's certificate authority. Its root is made on the first start and kept in the store
// (so every control-plane replica on one etcd signs with the same root), or read from files the
// user provides (then it never enters the store). Workload certificates carry one SPIFFE URI
// SAN and are issued from a CSR: the sidecar keeps its private key, the CA only sees the public
// key and proof that the sidecar holds the private one (the CSR's signature). The identity in
// the certificate comes from the caller's credentials, never from the CSR: a CSR that asks for
// another identity is refused.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_TRUST_DOMAIN, spiffeId, type WorkloadIdentity } from '@weft/model';
import { SECURITY_PREFIX } from '../keys.js';
import { StoreError, type Store } from '../store/types.js';
import {
  exportKeyPem,
  importKeyPem,
  KEY_ALGORITHM,
  webcrypto,
  x509,
  type CryptoKey,
} from './x509.js';

export const CA_ROOT_KEY = `${SECURITY_PREFIX}ca/root`;

/** Istio's default workload certificate lifetime (DEFAULT_WORKLOAD_CERT_TTL). */
export const DEFAULT_WORKLOAD_LIFETIME_MS = 24 * 3600_000;
/** A root lives ten years, as Istio's self-signed root does. */
const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600_000;
const SERVER_LIFETIME_MS = 90 * 24 * 3600_000;
/** Certificates start a minute in the past, so a peer whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = 60_000;
const MAX_CSR_BYTES = 16 << 10;

export class CaError extends Error {
  constructor(
    readonly code: 'WEFT_ERR_BAD_CSR' | 'WEFT_ERR_CSR_IDENTITY' | 'WEFT_ERR_CA_ROOT',
    message: string,
  ) {
    super(message);
    this.name = 'CaError';
  }
}

export interface IssuedCertificate {
  /** PEM of the leaf certificate. */
  certificate: string;
  /** PEM of the root that signed it. */
  root: string;
  /**
   * The trust bundle: every root a peer's certificate may chain to (the signing root first).
   * More than one while the root is being rotated (docs/security.md "Rotating the root").
   */
  roots: string[];
  spiffeId: string;
  notBefore: string;
  notAfter: string;
}

export interface MeshCaOptions {
  trustDomain?: string;
  /**
   * More roots to trust beside the signing one (PEM, one or several certificates per string):
   * the new root before it signs, or the old one after the switch.
   */
  trustRoots?: readonly string[];
  /** Default 24 h. */
  workloadLifetimeMs?: number;
  now?: () => number;
}

export interface RootFiles {
  certFile: string;
  keyFile: string;
}

export class MeshCa {
  readonly trustDomain: string;
  /** The signing root. */
  readonly rootPem: string;
  /** The signing root and every other root in the trust bundle, each once. */
  readonly trustBundle: readonly string[];
  private readonly workloadLifetimeMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly root: x509.X509Certificate,
    private readonly rootKey: CryptoKey,
    opts: MeshCaOptions,
  ) {
    this.trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.workloadLifetimeMs = opts.workloadLifetimeMs ?? DEFAULT_WORKLOAD_LIFETIME_MS;
    this.now = opts.now ?? Date.now;
    this.rootPem = root.toString('pem');
    const extra = (opts.trustRoots ?? []).flatMap((pem) => parseTrustRoots(pem));
    this.trustBundle = [...new Set([this.rootPem, ...extra])];
  }

  /** The trust bundle as one PEM text (what a `ca` option or a CA file takes). */
  get trustBundlePem(): string {
    return this.trustBundle.join('');
  }

  /**
   * The root from files when given; else the one in the store; else a new one, written so that
   * only the first of several replicas starting at once creates it (a guarded txn).
   */
  static async open(
    store: Store,
    opts: MeshCaOptions & {
      rootFiles?: RootFiles | undefined;
      /** PEM files of more roots to trust (added to `trustRoots`). */
      trustFiles?: readonly string[] | undefined;
    } = {},
  ): Promise<MeshCa> {
    if (opts.trustFiles !== undefined && opts.trustFiles.length > 0) {
      const read = opts.trustFiles.map((f) => {
        try {
          return readFileSync(f, 'utf8');
        } catch (err) {
          throw new CaError(
            'WEFT_ERR_CA_ROOT',
            `cannot read the trusted root ${f}: ${(err as Error).message}`,
          );
        }
      });
      opts = { ...opts, trustRoots: [...(opts.trustRoots ?? []), ...read] };
    }
    if (opts.rootFiles !== undefined) {
      const { certFile, keyFile } = opts.rootFiles;
      return MeshCa.fromPem(
        readFileSync(certFile, 'utf8'),
        readFileSync(keyFile, 'utf8'),
        opts,
        `${certFile} / ${keyFile}`,
      );
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const kv = await store.get(CA_ROOT_KEY);
      if (kv !== undefined) {
        const stored = JSON.parse(kv.value) as { certificate: string; privateKey: string };
        return MeshCa.fromPem(
          stored.certificate,
          stored.privateKey,
          opts,
          `the store (${CA_ROOT_KEY})`,
        );
      }
      const created = await createRoot(
        opts.trustDomain ?? DEFAULT_TRUST_DOMAIN,
        (opts.now ?? Date.now)(),
      );
      try {
        await store.txn(
          [{ type: 'put', key: CA_ROOT_KEY, value: JSON.stringify(created) }],
          [{ key: CA_ROOT_KEY, modRevision: 0 }],
        );
        return MeshCa.fromPem(created.certificate, created.privateKey, opts, 'new');
      } catch (err) {
        // Another replica wrote one first: read theirs.
        if (!(err instanceof StoreError && err.code === 'WEFT_ERR_TXN_CONFLICT')) throw err;
      }
    }
    throw new CaError('WEFT_ERR_CA_ROOT', 'could not create or read the mesh root certificate');
  }

  static async fromPem(
    certPem: string,
    keyPem: string,
    opts: MeshCaOptions,
    from = 'PEM',
  ): Promise<MeshCa> {
    let root: x509.X509Certificate;
    let key: CryptoKey;
    try {
      root = new x509.X509Certificate(certPem);
      key = await importKeyPem(keyPem);
    } catch (err) {
      throw new CaError(
        'WEFT_ERR_CA_ROOT',
        `the mesh root from ${from} is not a PEM certificate and PKCS#8 ECDSA P-256 key: ${(err as Error).message}`,
      );
    }
    const basic = root.getExtension(x509.BasicConstraintsExtension);
    if (basic?.ca !== true)
      throw new CaError(
        'WEFT_ERR_CA_ROOT',
        `the certificate from ${from} is not a CA (basicConstraints cA is not set)`,
      );
    return new MeshCa(root, key, opts);
  }

  identity(namespace: string, service: string): string {
    return spiffeId({ trustDomain: this.trustDomain, namespace, service });
  }

  /**
   * Signs the CSR's public key into a certificate for `identity`. The CSR must be signed by its
   * own key and may name no identity other than this one.
   */
  async issueWorkload(
    csrPem: string,
    identity: Omit<WorkloadIdentity, 'trustDomain'>,
    lifetimeMs = this.workloadLifetimeMs,
  ): Promise<IssuedCertificate> {
    if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_BYTES)
      throw new CaError(
        'WEFT_ERR_BAD_CSR',
        `the CSR must be a PEM string of at most ${MAX_CSR_BYTES} bytes`,
      );
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new CaError(
        'WEFT_ERR_BAD_CSR',
        `the CSR is not a PEM PKCS#10 request: ${(err as Error).message}`,
      );
    }
    if (!(await csr.verify()))
      throw new CaError(
        'WEFT_ERR_BAD_CSR',
        'the CSR signature does not verify with its own public key',
      );
    const id = this.identity(identity.namespace, identity.service);
    const san = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension);
    const asked = san?.names.items ?? [];
    for (const name of asked) {
      if (name.type !== 'url' || name.value !== id)
        throw new CaError(
          'WEFT_ERR_CSR_IDENTITY',
          `the CSR asks for ${name.type} "${name.value}", but these credentials are for ${id} only`,
        );
    }
    const now = this.now();
    const notAfter = Math.min(now + lifetimeMs, this.root.notAfter.getTime());
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: '',
      issuer: this.root.subject,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
      publicKey: csr.publicKey,
      signingKey: this.rootKey,
      signingAlgorithm: KEY_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        // Critical: the subject is empty, so the SAN is the whole name (RFC 5280 4.2.1.6).
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id }], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.root, false),
      ],
    });
    return {
      certificate: cert.toString('pem'),
      root: this.rootPem,
      roots: [...this.trustBundle],
      spiffeId: id,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    };
  }

  /** A certificate and key for the control plane's own HTTPS API (made here, never sent). */
  async issueServer(
    hosts: readonly string[],
  ): Promise<{ certificate: string; privateKey: string }> {
    const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
    const now = this.now();
    const names = [...new Set(hosts)].map((h) =>
      isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h },
    );
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: 'CN=weft-control-plane',
      issuer: this.root.subject,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(Math.min(now + SERVER_LIFETIME_MS, this.root.notAfter.getTime())),
      publicKey: keys.publicKey,
      signingKey: this.rootKey,
      signingAlgorithm: KEY_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(names, false),
      ],
    });
    return { certificate: cert.toString('pem'), privateKey: await exportKeyPem(keys.privateKey) };
  }
}

/**
 * Every certificate in a PEM text, each checked to be a CA certificate; re-encoded, so the same
 * root given twice (or with other line breaks) is one entry of the bundle.
 */
function parseTrustRoots(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new CaError('WEFT_ERR_CA_ROOT', 'a trusted root holds no PEM certificate');
  return blocks.map((block) => {
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(block);
    } catch (err) {
      throw new CaError(
        'WEFT_ERR_CA_ROOT',
        `a trusted root is not a PEM certificate: ${(err as Error).message}`,
      );
    }
    if (cert.getExtension(x509.BasicConstraintsExtension)?.ca !== true)
      throw new CaError(
        'WEFT_ERR_CA_ROOT',
        `the trusted root "${cert.subject}" is not a CA (basicConstraints cA is not set)`,
      );
    return cert.toString('pem');
  });
}

/** A new self-signed mesh root (ECDSA P-256): certificate and PKCS#8 key, PEM. */
export async function createRoot(
  trustDomain: string,
  now: number,
): Promise<{ certificate: string; privateKey: string }> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${trustDomain}, CN=Weft mesh root`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + ROOT_LIFETIME_MS),
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate: cert.toString('pem'), privateKey: await exportKeyPem(keys.privateKey) };
}

/** 16 random bytes, top bit clear so the DER integer stays positive. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}
