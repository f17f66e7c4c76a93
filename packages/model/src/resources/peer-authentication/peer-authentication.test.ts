import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { effectivePeerMode, peerAuthenticationKind, type PeerPolicy } from './index.js';

const check = (spec: unknown, namespace = 'default') =>
  peerAuthenticationKind.validateSpec(spec, { namespace });
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);

describe('PeerAuthentication', () => {
  it('accepts the three modes, a selector and port-level modes', () => {
    for (const mode of ['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'])
      assert.deepEqual(check({ mtls: { mode } }).violations, []);
    const r = check({
      selector: { matchLabels: { app: 'user' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { '8080': { mode: 'DISABLE' } },
    });
    assert.deepEqual(r.violations, []);
    assert.equal(r.spec?.portLevelMtls?.['8080']?.mode, 'DISABLE');
  });

  it('refuses unknown modes, port-level modes without a selector and bad ports', () => {
    assert.match(show(check({ mtls: { mode: 'MUTUAL' } }).violations, 'error')[0]!, /mtls\.mode/);
    assert.deepEqual(
      show(check({ portLevelMtls: { '80': { mode: 'STRICT' } } }).violations, 'error'),
      ['spec.portLevelMtls: portLevelMtls needs a workload selector with at least one label'],
    );
    assert.deepEqual(
      show(
        check({ selector: { matchLabels: { a: 'b' } }, portLevelMtls: { http: {} } }).violations,
        'error',
      ),
      ['spec.portLevelMtls.http: "http" is not a port number (1-65535)'],
    );
  });

  it('warns about a selector in the root namespace and fields Weft does not know', () => {
    const r = check({ selector: { matchLabels: { a: 'b' } }, mtls: {} }, 'istio-system');
    assert.match(show(r.violations, 'warning')[0]!, /^spec\.selector: .*root namespace/);
    assert.equal(show(check({ mtls: {}, extra: 1 }).violations, 'warning').length, 1);
  });
});

describe('effectivePeerMode', () => {
  const pa = (
    namespace: string,
    mode: PeerPolicy['mode'],
    selector?: Record<string, string>,
    ports?: PeerPolicy['ports'],
  ): PeerPolicy => ({
    namespace,
    name: `${namespace}-${mode}`,
    mode,
    ...(selector ? { selector } : {}),
    ...(ports ? { ports } : {}),
  });
  const user = { namespace: 'default', labels: { app: 'user', version: 'v1' } };

  it('is PERMISSIVE with no policy, and when every level is UNSET', () => {
    assert.equal(effectivePeerMode([], user), 'PERMISSIVE');
    assert.equal(effectivePeerMode([pa('istio-system', 'UNSET')], user), 'PERMISSIVE');
  });

  it('takes workload over namespace over mesh; UNSET inherits', () => {
    const mesh = pa('istio-system', 'STRICT');
    const ns = pa('default', 'PERMISSIVE');
    const wl = pa('default', 'DISABLE', { app: 'user' });
    assert.equal(effectivePeerMode([mesh], user), 'STRICT');
    assert.equal(effectivePeerMode([mesh, ns], user), 'PERMISSIVE');
    assert.equal(effectivePeerMode([mesh, ns, wl], user), 'DISABLE');
    assert.equal(
      effectivePeerMode([mesh, pa('default', 'UNSET', { app: 'user' })], user),
      'STRICT',
    );
    // Another namespace's policies and non-matching selectors do not apply.
    assert.equal(
      effectivePeerMode([pa('other', 'DISABLE'), pa('default', 'DISABLE', { app: 'x' })], user),
      'PERMISSIVE',
    );
  });

  it('lets the oldest policy win at one level, and a port-level mode win for its port', () => {
    const first = pa('default', 'STRICT', { app: 'user' });
    const second = pa('default', 'DISABLE', { version: 'v1' });
    assert.equal(effectivePeerMode([first, second], user), 'STRICT');
    const ported = pa('default', 'STRICT', { app: 'user' }, { '9000': 'PERMISSIVE' });
    assert.equal(effectivePeerMode([ported], user, 9000), 'PERMISSIVE');
    assert.equal(effectivePeerMode([ported], user, 9001), 'STRICT');
  });
});
