// One structured logger for every process. JSON lines to stdout, which journald (agent)
// and any log shipper (cloud) take as they are. LOG_LEVEL picks the level.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    name,
    level,
    // Secrets must never reach the logs, whatever object a caller hands over.
    redact: {
      paths: ['*.password', '*.token', '*.sasl', '*.key', '*.cert', 'password', 'token', 'authorization'],
      censor: '[redacted]',
    },
    base: { pid: process.pid },
  });
}
