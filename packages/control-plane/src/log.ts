import { pino, type Logger } from 'pino';

/** JSON logs on stderr, so stdout stays free for a command's own output. */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.WEFT_LOG_LEVEL ?? 'info' }, pino.destination(2));
}
export type { Logger };
