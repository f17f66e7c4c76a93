// The sidecar's own workload certificate. The key pair is made here and never leaves the
// process: the control plane's CA gets a CSR (public key + proof of possession) and answers
// with a certificate for this service's SPIFFE ID. The certificate is renewed at half its
// lifetime with a fresh key (as Istio's agent does), retried with backoff while the control
// plane does not answer; each renewal hands new secure contexts to the listeners and agents,
// which use them for new handshakes while open connections carry on with the old ones.

import 'reflect-metadata';
import { createSecureContext, type SecureContext } from 'node:tls';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { LogFn } from '../telemetry/log.js';
import { spiffeUriSan } from './peer-identity.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IssuedCertificate {
  certificate: string;
  /** The root that signed it. */
  root: string;
  /** The trust bundle (the signing root and any other root being rotated in or out). */
  roots?: string[];
}

export interface WorkloadCertificate {
  certPem: string;
  keyPem: string;
  /** The root that signed this certificate. */
  rootPem: string;
  /** Every root a peer may chain to, as one PEM text (docs/security.md "Rotating the root"). */
  trustPem: string;
  /** How many roots trustPem holds. */
  trustedRoots: number;
  /** The SPIFFE ID in the certificate. */
  identity: string;
  notBefore: number;
  notAfter: number;
  /** For this proxy's outbound connections (cert, key, and the roots to verify servers with). */
  context: SecureContext;
}

export interface WorkloadCertificateOptions {
  /** Sends the CSR to the control plane's CA; rejects when it refuses or cannot be reached. */
  issue(csrPem: string): Promise<IssuedCertificate>;
  log?: LogFn;
  /** Renew at this fraction of the lifetime (default 0.5). */
  renewAt?: number;
  now?: () => number;
  /** For the delay of a renewal after a reconnect (default Math.random). */
  random?: () => number;
}

export interface WorkloadCertificateSource {
  /** The certificate in use; undefined until the first one arrives. */
  current(): WorkloadCertificate | undefined;
  /** Resolves with the first certificate. */
  ready: Promise<WorkloadCertificate>;
  /** Called after each new certificate (the first one and every renewal). */
  onChange(fn: (c: WorkloadCertificate) => void): void;
  /** Renews now (tests, and an operator after rotating the root). */
  renew(): Promise<WorkloadCertificate>;
  /**
   * Called each time the proxy's snapshot stream connects to a control plane. From the second
   * time on (a reconnect), renews within a few seconds (a random delay, so that proxies do not
   * all ask at once); reconnects while one is pending add nothing. A control plane that restarted
   * may hold another trust bundle (a root rotation step), and the bundle comes with a
   * certificate, as Istio's root certificate comes with the SDS stream.
   */
  controlPlaneConnected(): void;
  close(): void;
}

const MIN_RETRY_MS = 250;
const REFRESH_SPREAD_MS = 2_000;
const MAX_RETRY_MS = 30_000;
// setTimeout's limit; a longer wait is taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function startWorkloadCertificate(
  opts: WorkloadCertificateOptions,
): WorkloadCertificateSource {
  const now = opts.now ?? Date.now;
  const renewAt = opts.renewAt ?? 0.5;
  const random = opts.random ?? Math.random;
  let connects = 0;
  // A renewal after a reconnect is waiting for its delay: further reconnects (a flapping
  // connection) add nothing. Costs are like the reconnect's own (it gets a whole snapshot).
  let refreshPending = false;
  const listeners: ((c: WorkloadCertificate) => void)[] = [];
  let current: WorkloadCertificate | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let resolveReady: (c: WorkloadCertificate) => void = () => undefined;
  const ready = new Promise<WorkloadCertificate>((r) => (resolveReady = r));

  const schedule = (delayMs: number, fn: () => void) => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(fn, Math.max(0, Math.min(delayMs, MAX_TIMER_MS)));
    timer.unref();
  };

  const obtain = async (): Promise<WorkloadCertificate> => {
    const cert = await requestCertificate(opts.issue);
    current = cert;
    resolveReady(cert);
    for (const fn of listeners) fn(cert);
    const renewInMs = renewDelayMs(cert, now(), renewAt);
    opts.log?.('info', 'workload certificate issued', {
      identity: cert.identity,
      trustedRoots: cert.trustedRoots,
      notAfter: new Date(cert.notAfter).toISOString(),
      renewInMs: Math.round(renewInMs),
    });
    schedule(renewInMs, () => void loop(0));
    return cert;
  };

  const loop = async (attempt: number): Promise<void> => {
    if (closed) return;
    try {
      await obtain();
    } catch (err) {
      const retryInMs = Math.min(MIN_RETRY_MS * 2 ** attempt, MAX_RETRY_MS);
      opts.log?.(attempt === 0 ? 'warn' : 'error', 'cannot get a workload certificate; retrying', {
        error: (err as Error).message,
        retryInMs,
        expiresAt: current ? new Date(current.notAfter).toISOString() : undefined,
      });
      schedule(retryInMs, () => void loop(attempt + 1));
    }
  };
  void loop(0);

  return {
    current: () => current,
    ready,
    onChange: (fn) => void listeners.push(fn),
    renew: obtain,
    controlPlaneConnected() {
      // The first connection comes with start-up, which asks for a certificate anyway; so does
      // the start-up loop while there is none yet.
      if (connects++ === 0 || closed || current === undefined) return;
      if (refreshPending) return;
      refreshPending = true;
      schedule(random() * REFRESH_SPREAD_MS, () => {
        refreshPending = false;
        void loop(0);
      });
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/**
 * How long until a certificate received at `received` is renewed: `renewAt` of its remaining
 * life. Measured from when it arrived, not from notBefore: the CA backdates notBefore a minute
 * for clock skew, which would put the half-life of a short-lived certificate in the past (and
 * renew it in a tight loop).
 */
export function renewDelayMs(
  cert: { notBefore: number; notAfter: number },
  received: number,
  renewAt: number,
): number {
  return Math.max(0, (cert.notAfter - Math.max(cert.notBefore, received)) * renewAt);
}

/** A fresh key pair and CSR, sent to the CA; checks what comes back before using it. */
async function requestCertificate(
  issue: (csrPem: string) => Promise<IssuedCertificate>,
): Promise<WorkloadCertificate> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  // No name in the CSR: the CA decides the identity from the token, and would refuse any other.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: KEY_ALGORITHM,
  });
  const issued = await issue(csr.toString('pem'));
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  const cert = new X509Certificate(issued.certificate);
  const root = new X509Certificate(issued.root);
  if (!cert.verify(root.publicKey))
    throw new Error('the issued certificate is not signed by the root sent with it');
  const identity = spiffeUriSan(cert.subjectAltName);
  if (identity === undefined) throw new Error('the issued certificate has no SPIFFE URI SAN');
  // A CA without a bundle sends its root alone; the signing root is always trusted.
  const roots = [...new Set([issued.root, ...(issued.roots ?? [])])];
  const trustPem = roots.join('\n');
  return {
    certPem: issued.certificate,
    keyPem,
    rootPem: issued.root,
    trustPem,
    trustedRoots: roots.length,
    identity,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    context: createSecureContext({ cert: issued.certificate, key: keyPem, ca: trustPem }),
  };
}
