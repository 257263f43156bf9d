// kafkajs logs through our pino loggers, so its lines are JSON like ours (journald on the Pi, the
// log shipper in the cloud). The mechanism is one; what level a kafkajs line deserves is each
// program's own (agent/sender/kafka-log.ts, ingest/consumer/kafka-log.ts).
import { type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from './log.js';

export type PinoLevel = 'error' | 'warn' | 'info' | 'debug';

/** kafkajs's own level as pino's. */
export const KAFKAJS_LEVELS: Record<number, PinoLevel> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * A kafkajs logCreator writing to `log` (component "kafkajs") at the level `levelOf` picks from
 * kafkajs's level (as pino's) and the entry (its message, and fields such as `error`).
 */
export function kafkaLogCreator(
  log: Logger,
  levelOf: (level: PinoLevel, message: string, fields: Record<string, unknown>) => PinoLevel,
) {
  const child = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as Record<string, unknown>;
      const text = String(message);
      child[levelOf(KAFKAJS_LEVELS[level] ?? 'info', text, rest)](rest, text);
    };
}
