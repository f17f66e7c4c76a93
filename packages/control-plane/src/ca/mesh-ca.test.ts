import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { openEmbeddedStore } from '../store/embedded.js';
import { CA_ROOT_KEY, CaError, createRoot, MeshCa } from './mesh-ca.js';
import { KEY_ALGORITHM, webcrypto, x509 } from './x509.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');

async function csrFor(uris: string[] = [], dns: string[] = []) {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const names = [
    ...uris.map((value) => ({ type: 'url' as const, value })),
    ...dns.map((value) => ({ type: 'dns' as const, value })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}

function openStore() {
  return openEmbeddedStore({ path: ':memory:', setTimer: () => ({ cancel() {} }) });
}

describe('MeshCa', () => {
  it('creates a root on first open, keeps it in the store and reuses it', async () => {
    const store = openStore();
    const a = await MeshCa.open(store, { now: () => NOW });
    assert.ok(await store.get(CA_ROOT_KEY));
    const b = await MeshCa.open(store, { now: () => NOW });
    assert.equal(a.rootPem, b.rootPem);
    const root = new X509Certificate(a.rootPem);
    assert.equal(root.ca, true);
    assert.ok(root.verify(root.publicKey), 'self-signed');
    await store.close();
  });

  it('issues a 24 h certificate with the SPIFFE URI SAN from a CSR, signed by the root', async () => {
    const store = openStore();
    const ca = await MeshCa.open(store, { now: () => NOW });
    const issued = await ca.issueWorkload(await csrFor(), { namespace: 'shop', service: 'order' });
    const cert = new X509Certificate(issued.certificate);
    assert.equal(cert.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/order');
    assert.equal(issued.spiffeId, 'spiffe://cluster.local/ns/shop/sa/order');
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(new X509Certificate(ca.rootPem).publicKey));
    assert.equal(Date.parse(cert.validTo) - NOW, 24 * 3600_000);
    assert.ok(Date.parse(cert.validFrom) <= NOW);
    assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'serverAuth');
    assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth');
    await store.close();
  });

  it('puts the CSR public key in the certificate (the private key never leaves its owner)', async () => {
    const store = openStore();
    const ca = await MeshCa.open(store, { now: () => NOW });
    const csrPem = await csrFor(['spiffe://cluster.local/ns/default/sa/user']);
    const issued = await ca.issueWorkload(
      csrPem,
      { namespace: 'default', service: 'user' },
      60_000,
    );
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const cert = new x509.X509Certificate(issued.certificate);
    assert.deepEqual(Buffer.from(cert.publicKey.rawData), Buffer.from(csr.publicKey.rawData));
    assert.equal(cert.notAfter.getTime() - NOW, 60_000, 'a shorter lifetime on request');
    await store.close();
  });

  it('refuses a CSR for another service, a DNS name, a bad signature or garbage', async () => {
    const store = openStore();
    const ca = await MeshCa.open(store, { now: () => NOW });
    const userId = { namespace: 'default', service: 'user' };
    await assert.rejects(
      ca.issueWorkload(await csrFor(['spiffe://cluster.local/ns/default/sa/stock']), userId),
      (e: unknown) =>
        e instanceof CaError &&
        e.code === 'WEFT_ERR_CSR_IDENTITY' &&
        /sa\/stock.*spiffe:\/\/cluster\.local\/ns\/default\/sa\/user only/.test(e.message),
    );
    await assert.rejects(
      ca.issueWorkload(await csrFor([], ['user.default.svc']), userId),
      (e: unknown) => e instanceof CaError && e.code === 'WEFT_ERR_CSR_IDENTITY',
    );
    await assert.rejects(
      ca.issueWorkload(
        '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----',
        userId,
      ),
      (e: unknown) => e instanceof CaError && e.code === 'WEFT_ERR_BAD_CSR',
    );
    // A CSR whose signature was made by another key: flip a byte of the signature.
    const good = new x509.Pkcs10CertificateRequest(await csrFor());
    const raw = Buffer.from(good.rawData);
    raw[raw.length - 3] = raw[raw.length - 3]! ^ 0xff;
    const forged = new x509.Pkcs10CertificateRequest(raw).toString('pem');
    await assert.rejects(
      ca.issueWorkload(forged, userId),
      (e: unknown) => e instanceof CaError && e.code === 'WEFT_ERR_BAD_CSR',
    );
    await store.close();
  });

  it('uses a root the user provides and never stores it; refuses a leaf as a root', async () => {
    const store = openStore();
    const first = await MeshCa.open(store, { now: () => NOW });
    const issued = await first.issueWorkload(await csrFor(), {
      namespace: 'default',
      service: 'a',
    });
    const { privateKey } = await first.issueServer(['localhost']);
    await assert.rejects(
      MeshCa.fromPem(issued.certificate, privateKey, {}),
      (e: unknown) => e instanceof CaError && e.code === 'WEFT_ERR_CA_ROOT',
    );
    await store.close();
  });

  it('issues the API server certificate for names and addresses', async () => {
    const store = openStore();
    const ca = await MeshCa.open(store, { trustDomain: 'example.org', now: () => NOW });
    const s = await ca.issueServer(['localhost', '127.0.0.1']);
    const cert = new X509Certificate(s.certificate);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(s.privateKey)));
    assert.equal(ca.identity('ns1', 'svc'), 'spiffe://example.org/ns/ns1/sa/svc');
    await store.close();
  });

  describe('trust bundle (root rotation)', () => {
    it('sends the signing root and the extra roots, each once, with every certificate', async () => {
      const oldRoot = await createRoot('cluster.local', NOW);
      const newRoot = await createRoot('cluster.local', NOW);
      // Signing with the old root, trusting the new one too (the first step of a rotation);
      // the signing root listed again and a root given twice are kept once.
      const ca = await MeshCa.fromPem(oldRoot.certificate, oldRoot.privateKey, {
        now: () => NOW,
        trustRoots: [newRoot.certificate + oldRoot.certificate, newRoot.certificate],
      });
      const issued = await ca.issueWorkload(await csrFor(), { namespace: 'default', service: 'a' });
      assert.equal(issued.roots.length, 2);
      assert.equal(issued.roots[0], issued.root);
      const signer = new X509Certificate(issued.root);
      assert.ok(new X509Certificate(issued.certificate).verify(signer.publicKey));
      assert.equal(
        new X509Certificate(issued.roots[1]!).fingerprint256,
        new X509Certificate(newRoot.certificate).fingerprint256,
      );
      assert.equal(ca.trustBundlePem, issued.roots.join(''));
    });

    it('refuses a trusted root that is not a CA certificate, or no certificate at all', async () => {
      const root = await createRoot('cluster.local', NOW);
      const ca = await MeshCa.fromPem(root.certificate, root.privateKey, { now: () => NOW });
      const leaf = (await ca.issueWorkload(await csrFor(), { namespace: 'default', service: 'a' }))
        .certificate;
      for (const pem of [leaf, 'not a certificate'])
        await assert.rejects(
          MeshCa.fromPem(root.certificate, root.privateKey, { trustRoots: [pem] }),
          (err: unknown) => err instanceof CaError && err.code === 'WEFT_ERR_CA_ROOT',
        );
    });
  });
});
