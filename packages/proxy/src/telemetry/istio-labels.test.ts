import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ISTIO_LABEL_NAMES,
  istioLabels,
  serviceOfNode,
  splitServiceHost,
  UNKNOWN_SERVICE,
  UNKNOWN_WORKLOAD,
  workloadOf,
  workloadOfNode,
} from './istio-labels.js';

describe('Istio labels', () => {
  it('names a workload from its app and version labels, with Istio canonical defaults', () => {
    const w = workloadOf({ app: 'order', version: 'v2' }, 'order', 'shop');
    assert.equal(w.workload, 'order-v2');
    assert.equal(w.app, 'order');
    assert.equal(w.version, 'v2');
    assert.equal(w.canonicalService, 'order');
    assert.equal(w.canonicalRevision, 'v2');
    assert.equal(w.namespace, 'shop');
    const bare = workloadOf({}, 'stock', 'default');
    assert.equal(bare.workload, 'stock');
    assert.equal(bare.version, 'unknown');
    assert.equal(bare.canonicalRevision, 'latest');
    const canonical = workloadOf(
      {
        app: 'a',
        'service.istio.io/canonical-name': 'c',
        'service.istio.io/canonical-revision': 'r',
      },
      'a',
      'default',
    );
    assert.equal(canonical.canonicalService, 'c');
    assert.equal(canonical.canonicalRevision, 'r');
  });

  it('names the default gateway as Istio names its ingress gateway', () => {
    const gw = workloadOfNode({
      id: 'gateway-1',
      role: 'gateway',
      namespace: 'default',
      labels: { istio: 'ingressgateway' },
    });
    assert.equal(gw.workload, 'istio-ingressgateway');
    assert.equal(gw.app, 'istio-ingressgateway');
  });

  it('splits mesh FQDNs and keeps other hosts whole', () => {
    assert.deepEqual(splitServiceHost('user.prod.svc.cluster.local'), {
      name: 'user',
      namespace: 'prod',
    });
    assert.deepEqual(splitServiceHost('api.example.com'), {
      name: 'api.example.com',
      namespace: 'unknown',
    });
  });

  it('reports as source on the client side and as destination on the server side', () => {
    const self = workloadOf({ app: 'order', version: 'v1' }, 'order', 'default');
    const peer = workloadOf({ app: 'user', version: 'v3' }, 'user', 'default');
    const out = istioLabels({
      kind: 'outbound',
      self,
      peer,
      service: { host: 'user.default.svc.cluster.local', name: 'user', namespace: 'default' },
      status: 503,
      flags: 'UF,URX',
      mutualTls: undefined,
      peerPrincipal: undefined,
    });
    assert.deepEqual(Object.keys(out), [...ISTIO_LABEL_NAMES]);
    assert.equal(out.reporter, 'source');
    assert.equal(out.source_workload, 'order-v1');
    assert.equal(out.destination_workload, 'user-v3');
    assert.equal(out.destination_version, 'v3');
    assert.equal(out.destination_service_name, 'user');
    assert.equal(out.response_code, '503');
    assert.equal(out.response_flags, 'UF,URX');
    assert.equal(out.connection_security_policy, 'unknown');

    const node = {
      id: 'user-1.sidecar',
      role: 'sidecar' as const,
      namespace: 'default',
      labels: { app: 'user', version: 'v3' },
      service: 'user',
    };
    const inbound = istioLabels({
      kind: 'inbound',
      self: workloadOfNode(node),
      peer: UNKNOWN_WORKLOAD,
      service: serviceOfNode(node),
      status: 200,
      flags: undefined,
      mutualTls: true,
      peerPrincipal: 'spiffe://cluster.local/ns/default/sa/order',
    });
    assert.equal(inbound.reporter, 'destination');
    assert.equal(inbound.destination_workload, 'user-v3');
    assert.equal(inbound.destination_service, 'user.default.svc.cluster.local');
    assert.equal(inbound.source_workload, 'unknown');
    assert.equal(inbound.source_principal, 'spiffe://cluster.local/ns/default/sa/order');
    assert.equal(inbound.response_flags, '-');
    assert.equal(inbound.connection_security_policy, 'mutual_tls');
    const plain = istioLabels({
      kind: 'inbound',
      self: workloadOfNode(node),
      peer: UNKNOWN_WORKLOAD,
      service: UNKNOWN_SERVICE,
      status: 200,
      flags: undefined,
      mutualTls: undefined,
      peerPrincipal: undefined,
    });
    assert.equal(plain.connection_security_policy, 'none');
  });
});
