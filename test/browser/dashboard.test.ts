/// <reference lib="dom" />
// The dashboard in a real browser: Debian's Chromium driven by playwright-core against the
// seed demo under load. It checks what a person would look at (the graph's text alternative,
// a service page, an instance going unhealthy) and saves screenshots under test-results/.

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemo, type RunningDemo } from '@weft/cli';

const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results');
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'my-service' }, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(5_000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** About `rps` requests a second over the seed's three paths until stopped, at most `maxMs`. */
function startLoad(port: number, rps: number, maxMs: number): () => Promise<number> {
  let stopped = false;
  let sent = 0;
  const paths = ['/order', '/user', '/stock'];
  const done = (async () => {
    const end = Date.now() + maxMs;
    while (!stopped && Date.now() < end) {
      const batch = paths.map((p) => get(port, p));
      sent += batch.length;
      await Promise.all([...batch, new Promise((r) => setTimeout(r, (1000 * paths.length) / rps))]);
    }
  })();
  return async () => {
    stopped = true;
    await done;
    return sent;
  };
}

/** The text of the rows of a table picked by data-testid, as arrays of cell texts. */
function rows(page: Page, testid: string): Promise<string[][]> {
  return page.$$eval(`[data-testid="${testid}"] tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')),
  );
}

/**
 * base64(SHA-256(SubjectPublicKeyInfo)) of the API's certificate, once Node verified it against
 * the mesh root: how Chromium names a key to trust (it sees only the leaf the server sends).
 */
function verifiedSpkiHash(url: string, caPem: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: caPem }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      const spki = new X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' });
      resolve(createHash('sha256').update(spki).digest('base64'));
    });
    socket.on('error', reject);
  });
}

/** Debian's Chromium, trusting the demo API's certificate (checked against its mesh root first). */
async function launch(demo: RunningDemo): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a container Chromium needs --no-sandbox; the rest keep it off the network
    // (this machine has none, and Chromium's own calls home would only fail slowly).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The demo's API is HTTPS with a certificate from the mesh CA: trust that certificate's
      // key, as a user would add ca.pem to the browser.
      `--ignore-certificate-errors-spki-list=${await verifiedSpkiHash(demo.controlUrl, readFileSync(demo.caFile, 'utf8'))}`,
    ],
  });
}

describe('dashboard in Chromium', { timeout: 240_000 }, () => {
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  let stopLoad: () => Promise<number>;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    demo = await startDemo({ port: 0 });
    stopLoad = startLoad(demo.gatewayPort, 30, 200_000);
    browser = await launch(demo);
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  });

  after(async () => {
    const sent = await stopLoad?.();
    await browser?.close();
    agent.destroy();
    await demo?.stop();
    console.log(`dashboard test: ${sent ?? 0} requests sent through the gateway`);
  });

  it('shows gateway -> user, order, stock and order -> user, stock with traffic', async () => {
    await page.goto(`${demo.controlUrl}/dashboard/`);
    const want = [
      ['ingressgateway (gateway)', 'user'],
      ['ingressgateway (gateway)', 'order'],
      ['ingressgateway (gateway)', 'stock'],
      ['order', 'user'],
      ['order', 'stock'],
    ];
    // The graph updates live: wait (no reload) until every expected edge carries requests.
    await page.waitForFunction(
      (expected) => {
        const trs = [...document.querySelectorAll('[data-testid="edges"] tbody tr')];
        const seen = trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
        return expected.every(([from, to]) =>
          seen.some((r) => r[0] === from && r[1] === to && Number(r[2]) > 0),
        );
      },
      want,
      { timeout: 60_000, polling: 500 },
    );
    const edges = await rows(page, 'edges');
    for (const [from, to] of want) {
      const row = edges.find((r) => r[0] === from && r[1] === to);
      assert.ok(row, `edge ${from} -> ${to} in ${JSON.stringify(edges)}`);
      assert.ok(Number(row[2]) > 0, `edge ${from} -> ${to} has a rate: ${row.join(' | ')}`);
      assert.match(row[3]!, /%$/, 'success rate shown');
    }
    // The canvas draws the same nodes the table lists.
    const drawn = await page.evaluate(() => document.querySelector('.graph canvas') !== null);
    assert.ok(drawn, 'cytoscape drew the graph');
    await page.screenshot({ path: join(SHOTS, 'dashboard-topology.png') });
  });

  it('opens a service page with its instances, callers and config', async () => {
    await page.getByRole('link', { name: 'order', exact: true }).first().click();
    await page.waitForSelector('[data-testid="instances"] tbody tr');
    const instances = await rows(page, 'instances');
    assert.deepEqual(
      instances.map((r) => r[0]).sort(),
      ['order-1', 'order-2'],
      JSON.stringify(instances),
    );
    await page.waitForSelector('[data-testid="outbound"] tbody tr');
    const outbound = (await rows(page, 'outbound')).map((r) => r[0]).sort();
    assert.deepEqual(outbound, ['stock', 'user']);
    await page.screenshot({ path: join(SHOTS, 'dashboard-service.png'), fullPage: true });
  });

  it('marks an instance unhealthy when its app dies', async () => {
    const app = demo.child('user-1');
    assert.ok(app, 'the demo runs user-1');
    app.child.kill('SIGKILL');
    await page.goto(`${demo.controlUrl}/dashboard/#/service/default/user`);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid="instances"] tbody tr')].some(
          (tr) => tr.textContent?.includes('user-1') && tr.textContent.includes('unhealthy'),
        ),
      undefined,
      { timeout: 30_000, polling: 500 },
    );
    const user1 = (await rows(page, 'instances')).find((r) => r[0] === 'user-1');
    assert.equal(user1?.[3], 'unhealthy');
    await page.screenshot({ path: join(SHOTS, 'dashboard-unhealthy.png'), fullPage: true });
  });

  it('lists every proxy with the version it ACKed', async () => {
    await page.goto(`${demo.controlUrl}/dashboard/#/config`);
    await page.waitForSelector('[data-testid="proxies"] tbody tr');
    const proxies = await rows(page, 'proxies');
    assert.ok(proxies.length >= 7, `gateway and six sidecars: ${JSON.stringify(proxies)}`);
    assert.ok(
      proxies.every((r) => r[4] !== '–'),
      'every proxy ACKed a version',
    );
  });
});

describe('dashboard of a control plane whose reads need a token', { timeout: 180_000 }, () => {
  let demo: RunningDemo;
  let browser: Browser;
  let token: string;

  before(async () => {
    demo = await startDemo({ port: 0, reads: 'token', instancesPerService: 1, accessLog: false });
    token = readFileSync(demo.adminTokenFile, 'utf8').trim();
    browser = await launch(demo);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('asks for a token, then reads with the one given, for this tab only', async () => {
    const page = await browser.newPage();
    await page.goto(`${demo.controlUrl}/dashboard/`);
    const form = page.getByTestId('token-form');
    await form.waitFor({ timeout: 30_000 });
    assert.match(await form.innerText(), /needs a token/);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Read with this token' }).click();
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.startsWith('live'),
      undefined,
      { timeout: 30_000, polling: 200 },
    );
    await page.waitForSelector('[data-testid="edges"], .graph', { timeout: 30_000 });
    await page.close();
  });

  it('takes a token from #token= in the address, and removes it from there', async () => {
    const page = await browser.newPage();
    await page.goto(`${demo.controlUrl}/dashboard/#token=${encodeURIComponent(token)}`);
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.startsWith('live'),
      undefined,
      { timeout: 30_000, polling: 200 },
    );
    assert.doesNotMatch(page.url(), /token/, 'the token is gone from the address');
    // The tap view's stream carries the token too (EventSource could not).
    await page.goto(`${demo.controlUrl}/dashboard/#/tap/default/user`);
    await page.getByRole('button', { name: 'Start tap' }).click();
    await page.waitForFunction(
      () =>
        /on \d+ sidecar/.test(
          document.querySelector('[data-testid="tap-state"]')?.textContent ?? '',
        ),
      undefined,
      { timeout: 30_000, polling: 200 },
    );
    await page.close();
  });
});
