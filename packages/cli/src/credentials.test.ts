import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlUrl, credentialsFor, DEFAULT_CONTROL_URL, saveContext } from './credentials.js';

describe('CLI credentials lookup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-creds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const adminFile = file('admin-token', 'weft_admin\n');
  const caFile = file('ca.pem', 'PEM');
  const home = join(dir, 'home');
  const env = { WEFT_HOME: home };
  const url = 'https://127.0.0.1:4443';

  it('without a context: the default URL and no credentials', () => {
    assert.equal(controlUrl(undefined, env), DEFAULT_CONTROL_URL);
    assert.deepEqual(credentialsFor(url, {}, env, join(dir, 'nowhere')), {});
  });

  it("a saved context is current and gives its URL's token and CA; forgetting removes it", () => {
    const forget = saveContext({ url, tokenFile: adminFile, caFile }, env);
    assert.equal(controlUrl(undefined, env), url);
    assert.equal(controlUrl('https://other:1', env), 'https://other:1');
    assert.deepEqual(credentialsFor(url, {}, env, dir), {
      token: 'weft_admin',
      ca: 'PEM',
      caFile,
    });
    // Another URL has no context: nothing of this one's is sent there.
    assert.deepEqual(credentialsFor('https://10.0.0.9:4443', {}, env, join(dir, 'nowhere')), {});
    forget();
    assert.equal(controlUrl(undefined, env), DEFAULT_CONTROL_URL);
    assert.ok(!existsSync(join(home, 'current.json')));
  });

  it('flags win over the environment, which wins over the context', () => {
    const forget = saveContext({ url, tokenFile: adminFile, caFile }, env);
    const fromEnv = credentialsFor(url, {}, { ...env, WEFT_TOKEN: 'weft_env' }, dir);
    assert.equal(fromEnv.token, 'weft_env');
    const fromFlag = credentialsFor(url, { token: 'weft_flag' }, { ...env, WEFT_TOKEN: 'x' }, dir);
    assert.equal(fromFlag.token, 'weft_flag');
    forget();
  });

  it("a proxy never takes the operator's admin token from a context or ./.weft, only the CA", () => {
    const forget = saveContext({ url, tokenFile: adminFile, caFile }, env);
    const proxy = credentialsFor(url, {}, env, dir, true);
    assert.equal(proxy.token, undefined);
    assert.equal(proxy.ca, 'PEM');
    const own = credentialsFor(url, { tokenFile: file('svc.token', 'weft_svc') }, env, dir, true);
    assert.equal(own.token, 'weft_svc');
    forget();
  });

  it("./.weft (weft control's default data dir) is read for loopback URLs only", () => {
    const cwd = join(dir, 'project');
    mkdirSync(join(cwd, '.weft'), { recursive: true });
    writeFileSync(join(cwd, '.weft', 'admin-token'), 'weft_local\n');
    assert.equal(credentialsFor('https://127.0.0.1:15010', {}, env, cwd).token, 'weft_local');
    assert.equal(credentialsFor('https://mesh.example:15010', {}, env, cwd).token, undefined);
  });
});
