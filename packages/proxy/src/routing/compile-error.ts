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
    if (err instanceof CompileError)
      throw new CompileError(join(path, err.path), err.reason, { cause: err.cause });
    const reason = err instanceof Error ? err.message : String(err);
    throw new CompileError(path, reason, { cause: err });
  }
}
