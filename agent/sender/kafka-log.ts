// kafkajs logs through pino, so its messages land in journald as JSON with the agent's.

import { kafkaLogCreator as creator } from '../../shared/kafka-log.js';
import type { Logger } from '../../shared/log.js';

/**
 * kafkajs reports every failed connection attempt at ERROR (and a limited idempotent retry at WARN); offline is normal for a rider's
 * device, so those go out at `quietLevel` and the sender logs one line per state change instead.
 */
export function kafkaLogCreator(log: Logger, quietLevel: 'debug' | 'warn' = 'debug') {
  return creator(log, (level) => (level === 'error' || level === 'warn' ? quietLevel : level));
}
