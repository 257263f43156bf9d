// One structured logger for every process. JSON lines to stdout, which journald (agent)
// and any log shipper (cloud) take as they are. LOG_LEVEL picks the level.
import { type Logger, pino } from 'pino';
import { LOG_LEVELS as LEVELS, rawSetting } from './config.js';

export type { Logger };

export function createLogger(name: string, level = envLevel()): Logger {
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

/**
 * LOG_LEVEL, checked: pino throws on an unknown level, and loggers are made as modules load, so
 * LOG_LEVEL=verbose was a stack trace from every program (a crash loop under systemd). It is a
 * bad setting like any other: one line, exit 2.
 */
function envLevel(): string {
  // From the ENV_FILE too: loggers are made as modules load, before any loadConfig reads it.
  const v = rawSetting('LOG_LEVEL');
  if (v === undefined || v === '') return 'info';
  if (LEVELS.includes(v)) return v;
  process.stderr.write(
    `config: LOG_LEVEL=${JSON.stringify(v)} is not allowed: expected one of ${LEVELS.join(', ')}\n`,
  );
  process.exit(2);
}
