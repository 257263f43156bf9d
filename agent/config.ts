// The agent's settings: environment variables (systemd's EnvironmentFile /etc/gps-agent/agent.env)
// validated at start; command-line options of `agent run` override them.
import { env } from '../shared/config.js';
import { kafkaSpec } from '../shared/kafka.js';
import { DEFAULT_MAX_ROWS } from './outbox/outbox.js';

/** Where the embedded broker listens when KAFKA_BROKERS is unset (npm run broker). */
export const EMBEDDED_BROKER = '127.0.0.1:9092';

/** What a device id may be (DEVICE_ID, and the simulator's ids). Not "." or "..": a browser folds them out of /api/devices/<id>/track. */
export const DEVICE_ID_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._:-]{1,64}$/;
export const DEVICE_ID_WORDS = '1..64 letters, digits or . _ : - (not . or ..)';

export const agentSpec = {
  DEVICE_ID: env.string({
    description: 'this device id, the Kafka key of its fixes',
    pattern: DEVICE_ID_PATTERN,
    patternWords: DEVICE_ID_WORDS,
  }),
  GPS_PATH: env.string({
    description: 'serial port of the GPS; unset = the first USB serial port found',
  }),
  GPS_BAUD: env.int({ description: 'serial baud rate', default: 9600, min: 1200, max: 921_600 }),
  AGENT_DB: env.string({
    description: 'outbox SQLite file',
    default: process.env['STATE_DIRECTORY'] ? `${process.env['STATE_DIRECTORY']}/outbox.db` : 'outbox.db',
  }),
  OUTBOX_MAX_ROWS: env.int({
    description: 'outbox bound in fixes per device (oldest unsent dropped beyond)',
    default: DEFAULT_MAX_ROWS,
    min: 10,
    max: 100_000_000,
  }),
  OUTBOX_MAX_AGE_HOURS: env.number({
    description: 'outbox bound in age (GNSS time) per device',
    default: 168,
    min: 0.01,
    max: 24 * 366,
  }),
  OUTBOX_COMMIT_MS: env.int({
    description: 'group commit: store the fixes of this many ms together (0 = every fix at once)',
    default: 0,
    min: 0,
    max: 60_000,
  }),
  SEND_BATCH: env.int({
    description: 'backlog fixes per produce request (also capped at 512 KiB)',
    default: 5000,
    min: 1,
    max: 100_000,
  }),
  ...kafkaSpec,
};
