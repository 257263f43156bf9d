// kafkajs logs through pino, so its messages land in journald as JSON with the agent's.
import { type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from '../../shared/log.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs reports every failed connection attempt at ERROR (and a limited idempotent retry at WARN); offline is normal for a rider's
 * device, so those go out at `quietLevel` and the sender logs one line per state change instead.
 */
export function kafkaLogCreator(log: Logger, quietLevel: 'debug' | 'warn' = 'debug') {
  const child = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as Record<string, unknown>;
      const name = LEVELS[level] ?? 'info';
      child[name === 'error' || name === 'warn' ? quietLevel : name](rest, String(message));
    };
}
