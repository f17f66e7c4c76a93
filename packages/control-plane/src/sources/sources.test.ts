import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Violation } from '@weft/model';
import { loadSources, parseYamlFile } from './yaml.js';

const at = (v: Violation | undefined) =>
  v?.position ? `${v.position.file}:${v.position.line}:${v.position.col}` : 'nowhere';
const find = (vs: Violation[], field: string) => vs.find((v) => v.field === field);

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: -10
    - destination:
        host: reviews
        subset: v2
        colour: blue
      weight: 110
`;

describe('parseYamlFile', () => {
  it('resolves field paths to the line and column of their key or list item', () => {
    const { docs, violations } = parseYamlFile('vs.yaml', REVIEWS);
    assert.deepEqual(violations, []);
    const [doc] = docs;
    assert.ok(doc);
    const pos = (p: string) => {
      const x = doc.positionOf(p);
      return x && `${x.line}:${x.col}`;
    };
    assert.equal(pos('spec.http[0].route[0].weight'), '13:7');
    assert.equal(pos('spec.http[0].route[1].destination.subset'), '16:9');
    assert.equal(pos('spec.hosts[0]'), '7:5');
    assert.equal(pos('spec.http[0].route[1]'), '14:7');
    assert.equal(pos('metadata.name'), '4:3');
    // Missing fields fall back to the nearest parent that exists.
    assert.equal(pos('spec.http[0].route[0].headers.request'), '10:7');
    assert.equal(pos('spec.http[3]'), '8:3');
    assert.equal(pos(''), '1:1');
    assert.equal(doc.positionOf('spec')?.file, 'vs.yaml');
  });

  it('reads every document of a file, skipping empty ones', () => {
    // The leading comment belongs to the first document, so `---` after it opens no new one.
    const text = `# leading comment\n---\nkind: A\n---\n# only a comment\n---\nkind: B\n---\n`;
    const { docs, violations } = parseYamlFile('m.yaml', text);
    assert.deepEqual(violations, []);
    assert.deepEqual(
      docs.map((d) => [d.index, d.value]),
      [
        [0, { kind: 'A' }],
        [2, { kind: 'B' }],
      ],
    );
    assert.equal(docs[1]?.positionOf('kind')?.line, 7);
  });

  it('turns a syntax error into a violation at its position and yields no documents', () => {
    const text = `kind: A\n---\nkind: B\nspec:\n  hosts: [a, b\n  http: []\n`;
    const { docs, violations } = parseYamlFile('bad.yaml', text);
    assert.deepEqual(docs, []);
    assert.ok(violations.length >= 1);
    const [first] = violations;
    assert.equal(first?.severity, 'error');
    assert.match(first?.message ?? '', /^YAML: /);
    // The parser notices the unclosed list where the next key starts.
    assert.equal(at(first), 'bad.yaml:6:3');
  });

  it('reports duplicate keys, which YAML forbids', () => {
    const { docs, violations } = parseYamlFile('dup.yaml', 'kind: A\nkind: B\n');
    assert.deepEqual(docs, []);
    assert.equal(at(violations[0]), 'dup.yaml:2:1');
  });
});

describe('loadSources', () => {
  it('attaches the file position and the resource to every violation', () => {
    const { resources, violations } = loadSources([{ path: 'vs.yaml', text: REVIEWS }]);
    assert.deepEqual(resources, []);
    const weight = find(violations, 'spec.http[0].route[0].weight');
    assert.equal(weight?.severity, 'error');
    assert.equal(weight?.message, 'must not be negative');
    assert.equal(weight?.resource, 'VirtualService default/reviews');
    assert.equal(at(weight), 'vs.yaml:13:7');
    // An unknown field points at its key.
    const colour = find(violations, 'spec.http[0].route[1].destination.colour');
    assert.equal(colour?.severity, 'warning');
    assert.equal(colour?.message, 'unknown field "colour"; ignored');
    assert.equal(at(colour), 'vs.yaml:17:9');
  });

  it('points at what the user wrote for protobuf (snake_case) names', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: foo}
spec:
  hosts: [example.com]
  http:
  - match:
    - uri: {prefix: /foo/}
      stat_prefix: foo
    redirect:
      authority: foo.example.com
      prefix_rewrite: /
`;
    const { resources, violations } = loadSources([{ path: 'r.yaml', text }]);
    assert.equal(resources.length, 1);
    const v = find(violations, 'spec.http[0].match[0].stat_prefix');
    assert.equal(v?.message, 'not supported by Weft yet; ignored');
    assert.equal(at(v), 'r.yaml:9:7');
  });

  it('falls back to the parent for a missing required field', () => {
    const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  subsets: []\n`;
    const { violations } = loadSources([{ path: 'dr.yaml', text }]);
    const v = find(violations, 'spec.host');
    assert.equal(v?.message, 'required');
    assert.equal(at(v), 'dr.yaml:5:1');
  });

  it('loads multi-document files and keeps file and document index', () => {
    const text = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
`;
    const { resources, violations } = loadSources([{ path: 'two.yaml', text }]);
    assert.deepEqual(violations, []);
    assert.deepEqual(
      resources.map((r) => [r.file, r.index, r.resource.kind, r.resource.metadata.namespace]),
      [
        ['two.yaml', 0, 'DestinationRule', 'default'],
        ['two.yaml', 1, 'Gateway', 'edge'],
      ],
    );
  });

  it('accepts JSON', () => {
    const text = JSON.stringify({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r' },
      spec: { host: 'r', subsets: [{ name: 'v1', labels: { version: 1 } }] },
    });
    const { resources, violations } = loadSources([{ path: 'r.json', text }]);
    assert.deepEqual(resources, []);
    const v = find(violations, 'spec.subsets[0].labels.version');
    assert.equal(v?.message, 'Invalid input: expected string, received number');
    assert.equal(at(v), `r.json:1:${text.indexOf('"version"') + 1}`);
  });

  it('reports a resource defined twice, naming both places, and keeps the first', () => {
    const doc = (ns: string) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\n${ns}spec: {host: r}\n`;
    const { resources, violations } = loadSources([
      { path: 'a.yaml', text: doc('') },
      {
        path: 'b.yaml',
        text: `${doc('')}---\n${doc('  namespace: other\n')}---\n${doc('  namespace: default\n')}`,
      },
    ]);
    assert.deepEqual(
      resources.map((r) => `${r.file}#${r.index} ${r.resource.metadata.namespace}`),
      ['a.yaml#0 default', 'b.yaml#1 other'],
    );
    const dups = violations.filter((v) => v.severity === 'error');
    assert.deepEqual(
      dups.map((v) => `${at(v)} ${v.message}`),
      [
        'b.yaml:4:3 duplicate DestinationRule default/r: defined at a.yaml:4:3 and again at b.yaml:4:3',
        'b.yaml:17:3 duplicate DestinationRule default/r: defined at a.yaml:4:3 and again at b.yaml:17:3',
      ],
    );
  });

  it('skips Kubernetes objects and Istio kinds Weft does not implement, with a warning', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{port: 9080}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: default, namespace: foo}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualSrvice
metadata: {name: x}
spec: {}
`;
    const { resources, violations } = loadSources([{ path: 'mix.yaml', text }]);
    assert.deepEqual(resources, []);
    assert.deepEqual(
      violations.map((v) => `${at(v)} ${v.severity} ${v.resource}: ${v.message}`),
      [
        'mix.yaml:2:1 warning Service default/reviews: kind Service (v1) is not a Weft resource; skipped',
        'mix.yaml:7:1 warning RequestAuthentication foo/default: kind RequestAuthentication is not supported by Weft yet; skipped',
        'mix.yaml:12:1 error VirtualSrvice default/x: unknown kind "VirtualSrvice"; Weft supports VirtualService (networking.istio.io), DestinationRule (networking.istio.io), Gateway (networking.istio.io), ServiceEntry (networking.istio.io), AuthorizationPolicy (security.istio.io), PeerAuthentication (security.istio.io)',
      ],
    );
  });

  it('rejects a document that is not a mapping', () => {
    const { violations } = loadSources([{ path: 's.yaml', text: '- a\n- b\n' }]);
    assert.deepEqual(
      violations.map((v) => `${at(v)} ${v.severity} ${v.message}`),
      ['s.yaml:1:1 error a resource must be a mapping with apiVersion, kind, metadata and spec'],
    );
  });
});

// From dist/sources (and src/sources) up to the directory that holds the repository; the
// compatibility corpus lives beside the repository in shared/.
const COMPAT = fileURLToPath(new URL('../../../../../shared/compat/istio/', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.(ya?ml|json)$/.test(name) ? [p] : [];
  });
}

describe(
  'Istio compatibility corpus',
  // Outside CI a checkout without shared/ beside it skips; under CI a missing corpus fails.
  { skip: process.env.CI !== 'true' && !existsSync(COMPAT) && `no corpus at ${COMPAT}` },
  () => {
    it('loads every published Istio file without an error', () => {
      const files = yamlFiles(COMPAT).sort();
      assert.ok(files.length > 50, `only ${files.length} files under ${COMPAT}`);
      let loaded = 0;
      for (const file of files) {
        const name = relative(COMPAT, file);
        const { resources, violations } = loadSources([
          { path: name, text: readFileSync(file, 'utf8') },
        ]);
        const errors = violations.filter((v) => v.severity === 'error');
        loaded += resources.length;
        if (name.includes('.fragment.')) {
          // These contain a `...` line in the original and are not valid YAML as they stand.
          assert.ok(errors.length > 0 && errors.every((e) => e.message.startsWith('YAML: ')), name);
          continue;
        }
        assert.deepEqual(errors, [], name);
        for (const v of violations) assert.ok(v.position, `${name}: ${v.field} has no position`);
      }
      assert.ok(loaded >= 70, `only ${loaded} resources loaded`);
    });

    it('applies portLevelSettings (no warning) and names what it does not support inside them', () => {
      const load = (name: string) =>
        loadSources([{ path: name, text: readFileSync(join(COMPAT, name), 'utf8') }]);
      const ratings = load('istio-api-examples/dr03-ratings-port-level-lb.yaml');
      assert.deepEqual(ratings.violations, []);
      assert.equal(ratings.resources.length, 1);
      const google = load('bookinfo/networking/egress-rule-google-apis.yaml');
      const portLevel = google.violations.filter((v) => v.field.includes('portLevelSettings'));
      assert.deepEqual(
        portLevel.map((v) => `${v.severity} ${v.field}`),
        ['warning spec.trafficPolicy.portLevelSettings[0].tls.mode'],
      );
      assert.match(portLevel[0]!.message, /SIMPLE is not supported by Weft yet/);
      assert.ok(portLevel[0]!.position, 'with its file position');
    });
  },
);
