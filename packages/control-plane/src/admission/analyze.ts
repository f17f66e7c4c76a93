// `weft analyze`: everything the control plane would say about a set of files, offline. The
// same steps as an apply (parse, validate, translate, admission) plus the reference checks,
// against nothing but the files themselves.

import type { Snapshot, Violation } from '@weft/model';
import { loadSources, type LoadedResource, type SourceInput } from '../sources/yaml.js';
import type { TranslateInput } from '../translate/input.js';
import { translate } from '../translate/translate.js';
import { prospectiveInput, runAdmission, type Admit } from './admission.js';
import { referenceWarnings } from './references.js';

export interface AnalyzeResult {
  resources: LoadedResource[];
  /** Every violation: validation, admission (compile) and references, in that order. */
  violations: Violation[];
  /** The snapshot the valid resources translate to (no instances). */
  snapshot: Snapshot;
}

export const EMPTY_INPUT: TranslateInput = {
  version: 0,
  virtualServices: [],
  destinationRules: [],
  gateways: [],
  instances: [],
};

export function analyzeSources(
  inputs: readonly SourceInput[],
  opts: { admit?: Admit } = {},
): AnalyzeResult {
  const { resources, violations } = loadSources(inputs);
  const input = prospectiveInput(EMPTY_INPUT, resources);
  const snapshot = translate(input);
  const out = [...violations];
  if (opts.admit) {
    out.push(...runAdmission(opts.admit, snapshot, resources));
  }
  out.push(...referenceWarnings(resources, input, { offline: true }));
  return { resources, violations: out, snapshot };
}

/** `translate` over files alone, for `weft explain -f`: no instances, so no endpoints. */
export function snapshotOfSources(inputs: readonly SourceInput[]): {
  snapshot: Snapshot;
  violations: Violation[];
} {
  const { resources, violations } = loadSources(inputs);
  return { snapshot: translate(prospectiveInput(EMPTY_INPUT, resources)), violations };
}
