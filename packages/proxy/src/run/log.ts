import { pino } from 'pino';

export type LogFn = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** JSON logs on stderr, so stdout stays free for a command's own output. */
export function createLog(name: string): LogFn {
  const logger = pino({ name, level: process.env.WEFT_LOG_LEVEL ?? 'info' }, pino.destination(2));
  return (level, msg, fields) => logger[level](fields ?? {}, msg);
}
