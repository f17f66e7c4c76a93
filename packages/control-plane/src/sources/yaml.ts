// The YAML source: `weft apply -f` files (YAML or JSON, several documents each) become
// validated resources, and every violation carries the file:line:col of the node it names,
// so that a person can go straight to it.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import {
  lookupKind,
  parseFieldPath,
  validateResource,
  type Resource,
  type SourcePosition,
  type Violation,
} from '@weft/model';

export interface ParsedDoc {
  file: string;
  /** Position of the document in its file, counting from 0 (empty documents count too). */
  index: number;
  value: unknown;
  /**
   * Where the node a field path names (`spec.http[0].route[1].weight`) sits in the file: the
   * key of a mapping entry, or the start of a list item. For a field that is not in the file,
   * the nearest parent that is.
   */
  positionOf(fieldPath: string): SourcePosition | undefined;
}

export interface LoadedResource {
  resource: Resource;
  file: string;
  index: number;
  /** Where a field of this resource sits in its file (see ParsedDoc.positionOf). */
  positionOf?: (fieldPath: string) => SourcePosition | undefined;
}

export interface SourceInput {
  path: string;
  text: string;
}

export function parseYamlFile(
  path: string,
  text: string,
): { docs: ParsedDoc[]; violations: Violation[] } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: path, line, col };
  };

  const violations: Violation[] = [];
  for (const doc of parsed) {
    for (const e of doc.errors) {
      violations.push({
        severity: 'error',
        field: '',
        message: `YAML: ${e.message}`,
        position: at(e.pos[0]),
      });
    }
    for (const w of doc.warnings) {
      violations.push({
        severity: 'warning',
        field: '',
        message: `YAML: ${w.message}`,
        position: at(w.pos[0]),
      });
    }
  }
  // A document after a syntax error may be a misread piece of the broken one.
  if (violations.some((v) => v.severity === 'error')) return { docs: [], violations };

  const docs: ParsedDoc[] = [];
  parsed.forEach((doc, index) => {
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    docs.push({
      file: path,
      index,
      value,
      positionOf: (fieldPath) => {
        const offset = offsetOf(doc, fieldPath);
        return offset === undefined ? undefined : at(offset);
      },
    });
  });
  return { docs, violations };
}

function offsetOf(doc: Document.Parsed, fieldPath: string): number | undefined {
  let node: unknown = doc.contents;
  let best = rangeStart(node);
  for (const seg of parseFieldPath(fieldPath) ?? []) {
    if (isAlias(node)) node = node.resolve(doc);
    if (typeof seg === 'string' && isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === seg);
      if (!pair) break;
      best = rangeStart(pair.key) ?? best;
      node = pair.value;
    } else if (typeof seg === 'number' && isSeq(node)) {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      best = rangeStart(item) ?? best;
      node = item;
    } else {
      break;
    }
  }
  return best;
}

function rangeStart(node: unknown): number | undefined {
  return (node as YamlNode | null | undefined)?.range?.[0];
}

function resourceLabel(r: Resource): string {
  return `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
}

function order(p: SourcePosition | undefined): number {
  return p ? p.line * 1e6 + p.col : 0;
}

function where(p: SourcePosition | undefined): string {
  return p ? `${p.file}:${p.line}:${p.col}` : 'an earlier document';
}

/**
 * Parses and validates every document of every file. Documents of kinds Weft does not handle
 * are skipped with a warning, since Istio samples mix them with Istio resources; a resource
 * defined twice is an error naming both places.
 */
export function loadSources(inputs: readonly SourceInput[]): {
  resources: LoadedResource[];
  violations: Violation[];
} {
  const resources: LoadedResource[] = [];
  const violations: Violation[] = [];
  const seen = new Map<string, SourcePosition | undefined>();

  for (const input of inputs) {
    const parsed = parseYamlFile(input.path, input.text);
    violations.push(...parsed.violations);
    for (const doc of parsed.docs) {
      const docViolations: Violation[] = [];
      const v = doc.value as { apiVersion?: unknown; kind?: unknown } | null;
      const lookup =
        typeof v === 'object' && v !== null
          ? lookupKind(v.apiVersion, v.kind)
          : { type: 'unknown' };
      if (lookup.type === 'foreign') {
        docViolations.push({
          severity: 'warning',
          field: 'kind',
          message: `kind ${String(v?.kind)} (${String(v?.apiVersion)}) is not a Weft resource; skipped`,
        });
      } else if (lookup.type === 'istio-not-supported') {
        docViolations.push({
          severity: 'warning',
          field: 'kind',
          message: `kind ${String(v?.kind)} is not supported by Weft yet; skipped`,
        });
      } else {
        const result = validateResource(doc.value);
        docViolations.push(...result.violations);
        if (result.resource) {
          const r = result.resource;
          const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
          const here = doc.positionOf('metadata.name');
          if (seen.has(key)) {
            docViolations.push({
              severity: 'error',
              field: 'metadata.name',
              message: `duplicate ${resourceLabel(r)}: defined at ${where(seen.get(key))} and again at ${where(here)}`,
              resource: resourceLabel(r),
            });
          } else {
            seen.set(key, here);
            resources.push({
              resource: r,
              file: doc.file,
              index: doc.index,
              positionOf: doc.positionOf,
            });
          }
        }
      }
      const meta = (v as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
      const label =
        typeof v?.kind === 'string' && typeof meta?.name === 'string'
          ? `${v.kind} ${typeof meta.namespace === 'string' ? meta.namespace : 'default'}/${meta.name}`
          : undefined;
      for (const dv of docViolations) {
        dv.position ??= doc.positionOf(dv.field);
        if (label !== undefined) dv.resource ??= label;
      }
      // Read top to bottom, like the file; validation finds them in another order.
      docViolations.sort((a, b) => order(a.position) - order(b.position));
      violations.push(...docViolations);
    }
  }
  return { resources, violations };
}
