// Loading the gateway's TLS certificates: every failure names the snapshot field and the file,
// SNI names resolve like virtual hosts, and shared files are read once. Certificates come from
// the openssl command (node:crypto cannot make them); files are served from memory.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GatewayTlsServer } from '../compile/types.js';
import { loadServerCertificates } from './server-certificates.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const NOW = Date.parse('2030-01-01T00:00:00Z');

function server(i: number, hosts: string[], cert: string, key: string): GatewayTlsServer {
  return {
    name: `default/gw servers[${i}]`,
    field: `gateways[0].servers[${i}].tls`,
    hosts,
    serverCertificate: cert,
    privateKey: key,
    caCertificates: undefined,
  };
}

describe(
  'loadServerCertificates',
  { skip: process.env.CI !== 'true' && !HAS_OPENSSL && 'no openssl command' },
  () => {
    const files = new Map<string, Buffer>();
    const reads: string[] = [];
    const readFile = (path: string): Buffer => {
      reads.push(path);
      const data = files.get(path);
      if (data === undefined)
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
          code: 'ENOENT',
        });
      return data;
    };
    const load = (servers: GatewayTlsServer[], now = NOW) =>
      loadServerCertificates(servers, { now, readFile });

    before(() => {
      const dir = mkdtempSync(join(tmpdir(), 'weft-certs-'));
      try {
        for (const host of ['shop.example.com', 'api.example.com']) {
          execFileSync(
            'openssl',
            [
              'req',
              '-x509',
              '-newkey',
              'ec',
              '-pkeyopt',
              'ec_paramgen_curve:prime256v1',
              '-nodes',
              '-keyout',
              join(dir, 'key'),
              '-out',
              join(dir, 'cert'),
              // Valid from now for ~30 years, so that NOW (2030) falls inside.
              '-days',
              '11000',
              '-subj',
              `/CN=${host}`,
            ],
            { stdio: 'ignore' },
          );
          files.set(`/certs/${host}.pem`, readFileSync(join(dir, 'cert')));
          files.set(`/certs/${host}.key`, readFileSync(join(dir, 'key')));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      files.set('/certs/garbage', Buffer.from('hello\n'));
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      files.set(
        '/certs/other.key',
        Buffer.from(other.privateKey.export({ type: 'pkcs8', format: 'pem' })),
      );
    });
    after(() => files.clear());

    it('gives nothing for no TLS servers', () => {
      assert.equal(load([]), undefined);
    });

    it('picks the context by SNI: exact, then wildcard, then the first server by default', () => {
      const shop = server(
        0,
        ['shop.example.com'],
        '/certs/shop.example.com.pem',
        '/certs/shop.example.com.key',
      );
      const api = server(
        1,
        ['*.api.example.com', 'api.example.com'],
        '/certs/api.example.com.pem',
        '/certs/api.example.com.key',
      );
      const certs = load([shop, api])!;
      assert.ok(certs.sni.lookup('shop.example.com'));
      assert.ok(certs.sni.lookup('v1.api.example.com'));
      assert.notEqual(certs.sni.lookup('shop.example.com'), certs.sni.lookup('api.example.com'));
      assert.equal(certs.sni.lookup('other.org'), undefined, 'the default context answers');
      assert.equal(certs.defaultOptions.cert, files.get('/certs/shop.example.com.pem'));
      assert.deepEqual(certs.warnings, []);
    });

    it('reads a file shared by several servers once per load', () => {
      reads.length = 0;
      const a = server(
        0,
        ['a.example.com'],
        '/certs/shop.example.com.pem',
        '/certs/shop.example.com.key',
      );
      const b = { ...a, field: 'gateways[0].servers[1].tls', hosts: ['b.example.com'] };
      load([a, b]);
      assert.deepEqual(reads, ['/certs/shop.example.com.pem', '/certs/shop.example.com.key']);
    });

    it('names the field and the file of everything it cannot use', () => {
      const ok = ['/certs/shop.example.com.pem', '/certs/shop.example.com.key'] as const;
      assert.throws(() => load([server(1, ['*'], '/certs/nope.pem', ok[1])]), {
        message:
          'gateways[0].servers[1].tls.serverCertificate: cannot read "/certs/nope.pem": no such file (ENOENT)',
      });
      assert.throws(() => load([server(0, ['*'], '/certs/garbage', ok[1])]), {
        message: `gateways[0].servers[0].tls.serverCertificate: "/certs/garbage" is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`,
      });
      assert.throws(() => load([server(0, ['*'], ok[0], '/certs/garbage')]), {
        message: `gateways[0].servers[0].tls.privateKey: "/certs/garbage" is not a PEM private key (no "PRIVATE KEY" block)`,
      });
      assert.throws(() => load([server(0, ['*'], ok[0], '/certs/other.key')]), {
        message:
          'gateways[0].servers[0].tls.privateKey: the key in "/certs/other.key" does not belong to the certificate in "/certs/shop.example.com.pem"',
      });
      assert.throws(
        () => load([{ ...server(0, ['*'], ok[0], ok[1]), caCertificates: '/certs/garbage' }]),
        {
          message:
            /^gateways\[0\]\.servers\[0\]\.tls\.caCertificates: "\/certs\/garbage" is not a PEM certificate/,
        },
      );
    });

    it('warns about a certificate that is not valid now', () => {
      const certs = load(
        [server(0, ['*'], '/certs/shop.example.com.pem', '/certs/shop.example.com.key')],
        Date.parse('2100-01-01T00:00:00Z'),
      )!;
      assert.equal(certs.warnings.length, 1);
      assert.match(certs.warnings[0]!, /is not valid now/);
    });
  },
);
