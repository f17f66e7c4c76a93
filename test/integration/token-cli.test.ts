// `weft control` locked by default, as a real process, and the CLI against it: the CLI finds
// the URL, the root and the admin token through the context `weft control` writes (like a
// kubeconfig); `weft token create|list|revoke` round trip; a sidecar's bootstrap token cannot
// change config; without credentials the CLI says what is missing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, startWeft, WEFT, type WeftProcess } from '../support/weft-process.js';

/** The environment without credentials a developer may have set. */
const clean = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !['WEFT_CONTROL', 'WEFT_TOKEN', 'WEFT_TOKEN_FILE', 'WEFT_CA'].includes(k),
  ),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('weft token (CLI) against a locked weft control', { timeout: 60_000 }, () => {
  let dir: string;
  let home: string;
  let control: WeftProcess;
  let url: string;

  /** The CLI as a user runs it, from a folder that is not the control plane's. */
  const weft = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [WEFT, ...args],
        {
          cwd: dir,
          env: { ...clean, WEFT_HOME: home, ...env },
          timeout: 20_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-token-cli-'));
    home = join(dir, 'home');
    control = startWeft(
      'control',
      ['control', '--port', '0', '--data-dir', join(dir, 'cp'), '--no-dashboard'],
      { env: { WEFT_HOME: home } },
    );
    const ready = await control.event((e) => e.event === 'ready');
    url = String(ready.url);
  });

  after(async () => {
    control?.signalGroup('SIGTERM');
    await control?.exited;
    await killGroup(control);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is locked by default: HTTPS, and the CLI finds it through the context it wrote', async () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(join(home, 'current.json')));
    // No --control, no token, no CA given: all from the context.
    const r = await weft(['get', 'services']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NAMESPACE\s+NAME/);
  });

  it('creates, lists and revokes tokens; the secret is printed once and never listed', async () => {
    const made = await weft(['token', 'create', '--service', 'user', '--ttl', '1h']);
    assert.equal(made.code, 0, made.stderr);
    const secret = made.stdout.trim();
    assert.match(secret, /^weft_[\w-]{43}$/);
    const id = /token ([0-9a-f]{16})/.exec(made.stderr)?.[1];
    assert.ok(id, made.stderr);

    const list = await weft(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /ID\s+KIND\s+SCOPE\s+CREATED\s+EXPIRES\s+LAST USED/);
    assert.match(list.stdout, new RegExp(`${id}\\s+bootstrap\\s+default/user`));
    assert.match(list.stdout, /admin\s+everything/);
    assert.ok(!list.stdout.includes(secret));

    // The bootstrap token reads, but may not change config.
    const tokenFile = join(dir, 'user.token');
    writeFileSync(tokenFile, `${secret}\n`);
    const vs = join(dir, 'vs.yaml');
    writeFileSync(
      vs,
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: user }\nspec: { hosts: [user], http: [{ route: [{ destination: { host: user } }] }] }\n',
    );
    const apply = await weft(['apply', '-f', vs, '--token-file', tokenFile]);
    assert.equal(apply.code, 1);
    assert.match(apply.stderr, /WEFT_ERR_AUTH_ADMIN_REQUIRED/);

    const revoked = await weft(['token', 'revoke', id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await weft(['token', 'list', '-o', 'json']);
    assert.ok(!after.stdout.includes(id));
    const refused = await weft(['token', 'list', '--token', secret]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /revoked.*WEFT_ERR_AUTH_INVALID_TOKEN/);
  });

  it('without credentials: plain words about what is missing', async () => {
    const empty = join(dir, 'empty-home');
    const noCa = await weft(['--control', url, 'token', 'list'], { WEFT_HOME: empty });
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /not trusted: pass --ca/);
    const noToken = await weft(
      ['--control', url, '--ca', join(dir, 'cp', 'ca.pem'), 'token', 'list'],
      { WEFT_HOME: empty },
    );
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /locked.*WEFT_ERR_AUTH_REQUIRED/);
    const plain = await weft(['--control', url.replace('https:', 'http:'), 'get', 'services'], {
      WEFT_HOME: empty,
    });
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /WEFT_ERR_CONTROL_UNREACHABLE/);
  });

  it('removes its context when it stops', async () => {
    control.signalGroup('SIGTERM');
    await control.exited;
    assert.ok(!existsSync(join(home, 'current.json')));
  });
});
