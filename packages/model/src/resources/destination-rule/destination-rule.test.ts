import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { destinationRuleKind } from './index.js';

const check = (spec: unknown) => destinationRuleKind.validateSpec(spec, { namespace: 'default' });
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);
const errors = (spec: unknown) => show(check(spec).violations, 'error');
const warnings = (spec: unknown) => show(check(spec).violations, 'warning');

describe('DestinationRule', () => {
  it('accepts what Weft implements without a word', () => {
    const spec = {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        {
          name: 'v2',
          labels: { version: 'v2' },
          trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
        },
      ],
    };
    const r = check(spec);
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.spec, spec);
  });

  it('requires host and subset names', () => {
    assert.deepEqual(errors({}), ['spec.host: required']);
    assert.deepEqual(errors({ host: '' }), ['spec.host: host must not be empty']);
    assert.deepEqual(errors({ host: 'r', subsets: [{ labels: {} }] }), [
      'spec.subsets[0].name: required',
    ]);
  });

  it('rejects duplicate and malformed subset names', () => {
    assert.deepEqual(
      errors({
        host: 'r',
        subsets: [{ name: 'v1' }, { name: 'v2' }, { name: 'v1' }, { name: 'V_3' }],
      }),
      [
        'spec.subsets[2].name: duplicate subset name "v1" (also spec.subsets[0])',
        'spec.subsets[3].name: invalid subset name "V_3": expected a DNS-1123 label',
      ],
    );
  });

  it('treats LEAST_CONN as the deprecated alias of LEAST_REQUEST', () => {
    const r = check({ host: 'r', trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } });
    assert.equal(r.spec?.trafficPolicy?.loadBalancer?.simple, 'LEAST_REQUEST');
    assert.deepEqual(show(r.violations, 'warning'), [
      'spec.trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated; Istio treats it as LEAST_REQUEST',
    ]);
  });

  it('rejects unknown enum values', () => {
    const [e] = errors({ host: 'r', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } });
    assert.match(
      e ?? '',
      /^spec\.trafficPolicy\.loadBalancer\.simple: Invalid option: expected one of "UNSPECIFIED"\|"LEAST_CONN"/,
    );
  });

  it('warns about each field Weft does not implement yet', () => {
    const spec = {
      host: 'r',
      exportTo: ['.'],
      workloadSelector: { matchLabels: { app: 'a' } },
      trafficPolicy: {
        loadBalancer: {
          simple: 'ROUND_ROBIN',
          localityLbSetting: { enabled: true },
          warmupDurationSecs: '10s',
        },
        connectionPool: {
          tcp: { maxConnections: 100, connectTimeout: '1s' },
          http: { http2MaxRequests: 1000 },
        },
        outlierDetection: {
          consecutive5xxErrors: 7,
          interval: '5m',
          baseEjectionTime: '15m',
          maxEjectionPercent: 100,
        },
        tls: { mode: 'ISTIO_MUTUAL' },
        portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
      },
      subsets: [
        {
          name: 'v1',
          trafficPolicy: {
            loadBalancer: {
              consistentHash: {
                httpCookie: { name: 'u', ttl: '0s', attributes: [{ name: 'SameSite' }] },
              },
            },
          },
        },
      ],
    };
    assert.deepEqual(errors(spec), []);
    assert.deepEqual(warnings(spec), [
      'spec.exportTo: not supported by Weft yet; ignored',
      'spec.workloadSelector: not supported by Weft yet; ignored',
      'spec.trafficPolicy.loadBalancer.localityLbSetting: not supported by Weft yet; ignored',
      'spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes: not supported by Weft yet; ignored',
    ]);
  });

  it('accepts portLevelSettings at the top level and in subsets', () => {
    const spec = {
      host: 'ratings',
      trafficPolicy: {
        loadBalancer: { simple: 'RANDOM' },
        portLevelSettings: [
          { port: { number: 80 }, loadBalancer: { simple: 'LEAST_REQUEST' } },
          {
            port: { number: 9080 },
            connectionPool: { http: { http2MaxRequests: 10 } },
            outlierDetection: { consecutive5xxErrors: 3 },
            tls: { mode: 'ISTIO_MUTUAL' },
          },
        ],
      },
      subsets: [
        {
          name: 'v1',
          trafficPolicy: {
            portLevelSettings: [
              { port: { number: 80 }, loadBalancer: { consistentHash: { useSourceIp: true } } },
            ],
          },
        },
      ],
    };
    const r = check(spec);
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.spec, spec);
  });

  it('rejects port-level settings without a port, out of range, twice for a port or empty', () => {
    assert.deepEqual(
      errors({
        host: 'r',
        trafficPolicy: {
          portLevelSettings: [
            { port: { number: 0 }, loadBalancer: { simple: 'RANDOM' } },
            { port: { number: 65536 }, loadBalancer: { simple: 'RANDOM' } },
            { port: { number: 80 }, loadBalancer: { simple: 'RANDOM' } },
            { port: { number: 80 }, tls: { mode: 'DISABLE' } },
            { port: { number: 81 } },
          ],
        },
        subsets: [
          {
            name: 'v1',
            trafficPolicy: { portLevelSettings: [{ outlierDetection: { interval: '0s' } }] },
          },
        ],
      }),
      [
        'spec.trafficPolicy.portLevelSettings[0].port.number: port must be between 1 and 65535',
        'spec.trafficPolicy.portLevelSettings[1].port.number: port must be between 1 and 65535',
        'spec.trafficPolicy.portLevelSettings[3].port.number: duplicate port 80 (also spec.trafficPolicy.portLevelSettings[2])',
        'spec.trafficPolicy.portLevelSettings[4]: set at least one of loadBalancer, connectionPool, outlierDetection, tls',
        'spec.subsets[0].trafficPolicy.portLevelSettings[0].port: required',
        'spec.subsets[0].trafficPolicy.portLevelSettings[0].outlierDetection.interval: must be at least 1ms',
      ],
    );
  });

  it('warns about port-level fields Weft does not implement', () => {
    assert.deepEqual(
      warnings({
        host: 'r',
        trafficPolicy: {
          portLevelSettings: [
            {
              port: { number: 443 },
              tls: { mode: 'SIMPLE' },
              loadBalancer: { localityLbSetting: { enabled: true } },
            },
          ],
        },
      }),
      [
        'spec.trafficPolicy.portLevelSettings[0].loadBalancer.localityLbSetting: not supported by Weft yet; ignored',
        'spec.trafficPolicy.portLevelSettings[0].tls.mode: SIMPLE is not supported by Weft yet (only ISTIO_MUTUAL and DISABLE); the cluster uses auto mTLS',
      ],
    );
  });

  it('checks oneofs and ranges of fields it does not implement yet', () => {
    assert.deepEqual(
      errors({
        host: 'r',
        trafficPolicy: {
          loadBalancer: {
            simple: 'RANDOM',
            consistentHash: { useSourceIp: true, httpHeaderName: 'x', ringHash: {}, maglev: {} },
          },
          outlierDetection: { maxEjectionPercent: 101, interval: 'often' },
          connectionPool: { tcp: { maxConnections: -1 } },
          portLevelSettings: [{ loadBalancer: { simple: 'RANDOM' } }],
        },
      }),
      [
        'spec.trafficPolicy.connectionPool.tcp.maxConnections: must not be negative',
        'spec.trafficPolicy.outlierDetection.interval: invalid duration: expected a number with a unit, e.g. 1s, 0.5s, 100ms, 3m, 24h',
        'spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be 0-100',
        'spec.trafficPolicy.loadBalancer.consistentHash: cannot be combined with simple',
        'spec.trafficPolicy.loadBalancer.consistentHash: set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName',
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev: cannot be combined with ringHash',
        'spec.trafficPolicy.portLevelSettings[0].port: required',
      ],
    );
  });

  it('accepts every load-balancer setting Weft implements without a word', () => {
    const lbs = [
      { simple: 'LEAST_REQUEST', warmupDurationSecs: '30s' },
      { warmup: { duration: '1m' } },
      { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 2048 } } },
      { consistentHash: { httpCookie: { name: 'u', path: '/', ttl: '1h' } } },
      { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } },
      { consistentHash: { httpQueryParameterName: 'q', minimumRingSize: 512 } },
    ];
    for (const loadBalancer of lbs) {
      const spec = {
        host: 'r',
        trafficPolicy: { loadBalancer },
        subsets: [{ name: 'v1', trafficPolicy: { loadBalancer } }],
      };
      assert.deepEqual(check(spec).violations, [], JSON.stringify(loadBalancer));
    }
  });

  it('warns where Weft differs: PASSTHROUGH, and slow start with RANDOM or hashing', () => {
    assert.deepEqual(
      warnings({
        host: 'r',
        trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } },
        subsets: [
          {
            name: 'v1',
            trafficPolicy: {
              loadBalancer: { consistentHash: { useSourceIp: true }, warmupDurationSecs: '5s' },
            },
          },
        ],
      }),
      [
        'spec.trafficPolicy.loadBalancer.simple: Weft has no original-destination forwarding: PASSTHROUGH balances round robin over the service endpoints',
        'spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs: slow start applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer only; ignored',
      ],
    );
  });

  it('rejects hash table sizes the proxy cannot build', () => {
    const lb = (consistentHash: object) => ({
      host: 'r',
      trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, ...consistentHash } } },
    });
    assert.deepEqual(errors(lb({ maglev: { tableSize: 65536 } })), [
      'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: must be a prime number up to 5000011',
    ]);
    assert.deepEqual(errors(lb({ ringHash: { minimumRingSize: '9000000' } })), [
      "spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize: must be at most 8388608 (Envoy's maximum ring size)",
    ]);
    assert.deepEqual(errors(lb({ maglev: { tableSize: 0 } })), [], '0 means the default');
  });

  it('accepts quoted 64-bit integers as protobuf JSON does', () => {
    const spec = {
      host: 'r',
      trafficPolicy: {
        loadBalancer: {
          consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: '1024' } },
        },
      },
    };
    assert.deepEqual(errors(spec), []);
  });

  it('rejects pool limits and outlier settings that make no sense, with field paths', () => {
    const spec = {
      host: 'r',
      trafficPolicy: {
        connectionPool: {
          tcp: { maxConnections: -1, connectTimeout: '0s' },
          http: { http1MaxPendingRequests: -5, maxRetries: -1 },
        },
        outlierDetection: { maxEjectionPercent: 150, minHealthPercent: -1, interval: '0s' },
      },
      subsets: [
        {
          name: 'v1',
          trafficPolicy: { outlierDetection: { baseEjectionTime: '0s', consecutive5xxErrors: -2 } },
        },
      ],
    };
    const e = errors(spec);
    for (const field of [
      'spec.trafficPolicy.connectionPool.tcp.maxConnections',
      'spec.trafficPolicy.connectionPool.tcp.connectTimeout',
      'spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests',
      'spec.trafficPolicy.connectionPool.http.maxRetries',
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent',
      'spec.trafficPolicy.outlierDetection.minHealthPercent',
      'spec.trafficPolicy.outlierDetection.interval',
      'spec.subsets[0].trafficPolicy.outlierDetection.baseEjectionTime',
      'spec.subsets[0].trafficPolicy.outlierDetection.consecutive5xxErrors',
    ]) {
      assert.ok(
        e.some((m) => m.startsWith(`${field}: `)),
        `${field} in ${JSON.stringify(e, null, 1)}`,
      );
    }
  });

  it('accepts the circuit-breaking sample from the Istio docs without a warning', () => {
    const spec = {
      host: 'httpbin',
      trafficPolicy: {
        connectionPool: {
          tcp: { maxConnections: 1 },
          http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 },
        },
        outlierDetection: {
          consecutive5xxErrors: 1,
          interval: '1s',
          baseEjectionTime: '3m',
          maxEjectionPercent: 100,
        },
      },
    };
    assert.deepEqual(errors(spec), []);
    assert.deepEqual(warnings(spec), []);
  });
});
