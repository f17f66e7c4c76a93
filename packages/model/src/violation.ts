/** A position in a source file, 1-based as editors show it. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/**
 * One problem with one field. Validation returns all of them, never just the first, so that
 * a person fixes a file in one pass. `field` is a path like `spec.http[0].route[1].weight`.
 */
export interface Violation {
  severity: 'error' | 'warning';
  field: string;
  message: string;
  /** The resource the violation belongs to, `Kind namespace/name`, when known. */
  resource?: string;
  position?: SourcePosition;
}

export function formatViolation(v: Violation): string {
  const where = v.position ? `${v.position.file}:${v.position.line}:${v.position.col}: ` : '';
  const what = v.resource ? `${v.resource}: ` : '';
  const field = v.field ? `${v.field}: ` : '';
  return `${where}${v.severity}: ${what}${field}${v.message}`;
}
