// Errors from compiling a snapshot carry the field path, so the NACK the control plane sees
// says exactly where: `mesh.virtualHosts[2].routes[0].matches[1].uri: invalid RE2 regex`.

export class CompileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(path === '' ? reason : `${path}: ${reason}`, options);
    this.name = 'CompileError';
  }
}

function join(outer: string, inner: string): string {
  if (inner === '') return outer;
  if (outer === '') return inner;
  return inner.startsWith('[') ? outer + inner : `${outer}.${inner}`;
}

/** Runs `fn`, prefixing any error with `path`. */
export function at<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CompileErrors)
      throw new CompileErrors(
        err.errors.map((e) => new CompileError(join(path, e.path), e.reason, { cause: e.cause })),
      );
    if (err instanceof CompileError)
      throw new CompileError(join(path, err.path), err.reason, { cause: err.cause });
    const reason = err instanceof Error ? err.message : String(err);
    throw new CompileError(path, reason, { cause: err });
  }
}

/**
 * Every error found in one pass, for admission (CompileOptions.allErrors): a person fixing an
 * apply should see all of its problems at once, not one per try. `at` prefixes each path.
 */
export class CompileErrors extends Error {
  constructor(readonly errors: readonly CompileError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'CompileErrors';
  }
}

/** The CompileErrors inside `err` (as `at` leaves them), one or many. */
export function compileErrorsOf(err: unknown): CompileError[] {
  if (err instanceof CompileErrors) return [...err.errors];
  if (err instanceof CompileError) return [err];
  return [new CompileError('', err instanceof Error ? err.message : String(err), { cause: err })];
}

/**
 * `items.map` with each item's errors prefixed by `path(i)`. With `all`, a failing item does
 * not stop the others: every item is compiled and their errors are thrown together.
 */
export function mapAll<T, R>(
  items: readonly T[],
  path: (i: number) => string,
  fn: (item: T, i: number) => R,
  all: boolean,
): R[] {
  if (!all) return items.map((x, i) => at(path(i), () => fn(x, i)));
  const out: R[] = [];
  const errors: CompileError[] = [];
  items.forEach((x, i) => {
    try {
      out.push(at(path(i), () => fn(x, i)));
    } catch (err) {
      errors.push(...compileErrorsOf(err));
    }
  });
  if (errors.length > 0) throw new CompileErrors(errors);
  return out;
}
