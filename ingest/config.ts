// The ingest process's own environment variables (the HTTP server's are in ingest/http/config.ts,
// Kafka's in shared/kafka.ts). Command-line flags of `ingest run` override the flush settings.
import { env } from '../shared/config.js';

/**
 * V8 flags the ingest process runs with: at tens of thousands of fixes/s the default young
 * generation makes the scavenger run constantly (~20% of the consumer's CPU); larger semi-spaces
 * took the measured end-to-end rate from ~65-80k to ~90-125k fixes/s. 16 MB, not 64: a scavenge
 * stops the event loop for as long as it copies the survivors, and with 64 MB those pauses
 * reached 120-320 ms (8 MB: 40-55 ms), showing in the live view's p99 latency; broker to SQLite
 * measured 111k/121k fixes/s with 16 MB against 64k/107k with 64 MB, same machine, alternating.
 * `npm run ingest` (in package.json, which cannot import this) and `npm start` pass them; so
 * should any other launcher.
 */
export const INGEST_NODE_FLAGS = ['--max-semi-space-size=16'];

/** Where the SQLite database is when nothing says otherwise: ./data, made if missing (main.ts). */
export const DEFAULT_SQLITE_PATH = 'data/ingest.db';

export const GROUP_NAMES = ['fix-store', 'trips', 'live'] as const;
export type GroupName = (typeof GROUP_NAMES)[number];

/**
 * INGEST_FIX_STORE_MEMBERS when it is unset. Two members write a backlog faster than one (one
 * decodes while the other writes: 211-273k fixes/s into SQLite against 119-173k on this 2-core
 * machine). Beside the live group, one: the store groups there write the fleet's 1 Hz, not a
 * backlog, and the second member's thread costs CPU for nothing (the process's CPU a fix at 10,000
 * riders: 113-122 us against 98-114 with one, in alternating runs of bench/live.ts; the live p99
 * moved within its noise, 44-84 ms against 39-74).
 */
export function defaultFixStoreMembers(groups: readonly GroupName[]): number {
  return groups.includes('live') ? 1 : 2;
}

export const ingestSpec = {
  DATABASE_URL: env.string({
    description: 'PostgreSQL connection URL; unset = the embedded SQLite file',
    pattern: /^postgres(ql)?:\/\//,
    patternWords: 'a postgres:// or postgresql:// URL',
    secret: true,
  }),
  INGEST_DB_SCHEMA: env.string({
    description: 'PostgreSQL schema for the tables',
    default: 'public',
    pattern: /^[a-z_][a-z0-9_]{0,62}$/,
    patternWords: 'a lower-case SQL identifier',
  }),
  INGEST_SQLITE_PATH: env.string({ description: 'SQLite database file', default: DEFAULT_SQLITE_PATH }),
  INGEST_GROUPS: env.list({
    description: 'consumer groups this process runs',
    default: [...GROUP_NAMES],
    item: /^(fix-store|trips|live)$/,
    itemWords: GROUP_NAMES.join(' / '),
  }),
  // Large on purpose: steady traffic flushes on time long before this; a backlog catch-up writes
  // this many per transaction, and SQLite's cost per commit barely depends on the row count
  // (bench/ingest.ts: 1000 rows ~25k fixes/s, 5000 ~40-65k, 20000 ~85-200k).
  INGEST_FLUSH_ROWS: env.int({
    description: 'write a batch when this many fixes wait',
    default: 20_000,
    min: 1,
    max: 1_000_000,
  }),
  INGEST_FLUSH_MS: env.int({
    description:
      'write a batch when its oldest fix waited this long (ms); a consumer that is behind writes without waiting',
    default: 250,
    min: 1,
    max: 60_000,
  }),
  INGEST_FIX_STORE_MEMBERS: env.int({
    description:
      'fix-store group members this process runs, each beyond the first on a thread of its own: one decodes while another writes (unset: 2, or 1 beside the live group; ingest/README.md)',
    min: 1,
    max: 16,
  }),
  INGEST_GROUP_PREFIX: env.string({
    description: 'prefix for the consumer group ids (e.g. staging-); unset = none',
    pattern: /^[A-Za-z0-9._-]{1,100}$/,
    patternWords: 'letters, digits, . _ -',
  }),
  INGEST_SESSION_TIMEOUT_MS: env.int({
    description: 'a member silent this long (ms) loses its partitions to the others of its group',
    default: 30_000,
    min: 3_000,
    max: 300_000,
  }),
  INGEST_HTTP: env.bool({ description: 'serve the HTTP API and dashboard', default: true }),
};
