/** How the data plane logs: the caller (a pino logger in `run/`) decides where lines go. */
export type LogFn = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;
