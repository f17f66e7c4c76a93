// The generic entry point: checks what every resource has (apiVersion, kind, metadata) and
// hands the spec to its kind.
import type { Violation } from '../violation.js';
import { DEFAULT_NAMESPACE } from '../names.js';
import { Report, isDns1123Label, isDns1123Subdomain } from './checks.js';
import { apiGroupOf, kindDescriptor, kinds, type Resource } from './kinds.js';
import type { ResourceMetadata } from './types.js';

export interface ResourceValidation {
  /** Present only when there is no error-severity violation. */
  resource?: Resource;
  violations: Violation[];
}

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec']);

/** ObjectMeta fields that describe a stored object (kubectl get -o yaml), not configuration. */
const METADATA_IGNORED = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'ownerReferences',
  'finalizers',
  'managedFields',
  'generateName',
  'selfLink',
]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function supportedKinds(): string {
  return Object.values(kinds)
    .map((k) => `${k.kind} (${k.group})`)
    .join(', ');
}

export function validateResource(doc: unknown): ResourceValidation {
  const report = new Report();
  if (!isObj(doc)) {
    report.error([], 'a resource must be a mapping with apiVersion, kind, metadata and spec');
    return { violations: report.violations };
  }
  const { apiVersion, kind } = doc;

  if (typeof apiVersion !== 'string' || apiVersion === '') {
    report.error(['apiVersion'], 'required');
  }
  const descriptor = typeof kind === 'string' ? kindDescriptor(kind) : undefined;
  if (typeof kind !== 'string' || kind === '') {
    report.error(['kind'], 'required');
  } else if (!descriptor) {
    report.error(['kind'], `unknown kind "${kind}"; Weft supports ${supportedKinds()}`);
  } else if (typeof apiVersion === 'string' && apiVersion !== '') {
    const group = apiGroupOf(apiVersion);
    const version = apiVersion.slice(group.length ? group.length + 1 : 0);
    if (group !== descriptor.group) {
      report.error(
        ['apiVersion'],
        `${kind} belongs to API group ${descriptor.group}, not "${group}" (use ${descriptor.group}/${descriptor.versions[0]})`,
      );
    } else if (!descriptor.versions.includes(version)) {
      report.error(
        ['apiVersion'],
        `${group} has no version "${version}" for ${kind}; use one of ${descriptor.versions.join(', ')}`,
      );
    }
  }

  for (const key of Object.keys(doc)) {
    if (TOP_LEVEL.has(key)) continue;
    if (key === 'status') report.warning([key], 'status is written by the control plane; ignored');
    else report.warning([key], `unknown field "${key}"; ignored`);
  }

  const metadata = validateMetadata(doc.metadata, report);
  const namespace = metadata?.namespace ?? DEFAULT_NAMESPACE;
  const spec = descriptor?.validateSpec(doc.spec, { namespace });
  const violations = [...report.violations, ...(spec?.violations ?? [])];

  const name = metadata?.name;
  if (typeof kind === 'string' && kind !== '' && name) {
    for (const v of violations) v.resource ??= `${kind} ${namespace}/${name}`;
  }
  if (
    violations.some((v) => v.severity === 'error') ||
    !metadata ||
    spec?.spec === undefined ||
    typeof apiVersion !== 'string'
  ) {
    return { violations };
  }
  // The kind was looked up from the registry, so the spec has the type that goes with it.
  const resource = { apiVersion, kind, metadata, spec: spec.spec } as Resource;
  return { resource, violations };
}

function validateMetadata(meta: unknown, report: Report): ResourceMetadata | undefined {
  if (!isObj(meta)) {
    report.error(['metadata'], meta === undefined ? 'required' : 'must be a mapping');
    return undefined;
  }
  let ok = true;
  const { name, namespace } = meta;
  if (typeof name !== 'string' || name === '') {
    report.error(['metadata', 'name'], 'required');
    ok = false;
  } else if (!isDns1123Subdomain(name)) {
    report.error(
      ['metadata', 'name'],
      `invalid name "${name}": lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters`,
    );
    ok = false;
  }
  let ns = DEFAULT_NAMESPACE;
  if (namespace !== undefined) {
    if (typeof namespace !== 'string' || namespace === '') {
      report.error(['metadata', 'namespace'], 'must be a non-empty string');
      ok = false;
    } else if (isDns1123Label(namespace)) {
      ns = namespace;
    } else if (isDns1123Label(namespace.toLowerCase())) {
      // Istio's own examples use `nsA`; accepted, but Kubernetes would refuse it.
      report.warning(['metadata', 'namespace'], 'Kubernetes requires lower-case namespace names');
      ns = namespace;
    } else {
      report.error(
        ['metadata', 'namespace'],
        `invalid namespace "${namespace}": expected a DNS-1123 label`,
      );
      ok = false;
    }
  }
  const labels = stringMap(meta.labels, ['metadata', 'labels'], report);
  const annotations = stringMap(meta.annotations, ['metadata', 'annotations'], report);
  if (labels === null || annotations === null) ok = false;

  for (const key of Object.keys(meta)) {
    if (key === 'name' || key === 'namespace' || key === 'labels' || key === 'annotations')
      continue;
    if (METADATA_IGNORED.has(key))
      report.warning(['metadata', key], 'not supported by Weft yet; ignored');
    else report.warning(['metadata', key], `unknown field "${key}"; ignored`);
  }
  if (!ok || typeof name !== 'string') return undefined;
  return {
    name,
    namespace: ns,
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/** `undefined` when absent, `null` when invalid (reported). */
function stringMap(
  v: unknown,
  path: readonly string[],
  report: Report,
): Record<string, string> | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    report.error(path, 'must be a mapping of strings');
    return null;
  }
  let ok = true;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') {
      report.error([...path, k], 'must be a string (quote it)');
      ok = false;
    }
  }
  return ok ? (v as Record<string, string>) : null;
}
