// Versioned schema for both backends. A migration is never edited once released: a change is a
// new version appended here. migrate() applies the ones schema_migrations does not list yet, each
// in its own transaction together with its schema_migrations row, so a crash mid-way leaves either
// the old or the new version, never half of one.
//
// Layout (same in both dialects; integers are ms since 1970 or seq numbers):
//   fixes       one row per (device_id, seq): what the device sent, plus received_at (ingest time)
//   devices     per device running totals kept in the same transaction as the fixes insert, so
//               /devices and the gap gauges never scan the fixes table to count
//   trip_days   per device and UTC day: distance, moving time, max speed
//   trip_state  per device: the cursor the trips group continues from, and a version every write
//               bumps (see ingest/trips/README.md)
//   fix_minutes SQLite only: per device and minute, the seq range of its fixes; the time index
//               (ingest/db/fix-minutes.ts)
//   rejected_seqs, rejected_devices  seqs the cloud dead-lettered, and how many per device
//               (ingest/db/rejected.ts)

import { MINUTE_MS } from './fix-minutes.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

type Dialect = 'sqlite' | 'postgres';

function schemaV1(d: Dialect): string {
  const big = d === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const real = d === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  const small = d === 'sqlite' ? 'INTEGER' : 'SMALLINT';
  // SQLite: WITHOUT ROWID stores rows in primary-key order, one b-tree instead of two.
  const noRowid = d === 'sqlite' ? ' WITHOUT ROWID' : '';
  return `
CREATE TABLE fixes (
  device_id TEXT NOT NULL,
  seq ${big} NOT NULL,
  time ${big} NOT NULL,
  lat ${real} NOT NULL,
  lon ${real} NOT NULL,
  alt ${real},
  speed ${real},
  course ${real},
  hdop ${real},
  sats ${small},
  mode ${small} NOT NULL,
  quality ${small},
  dropped_through ${big},
  received_at ${big} NOT NULL,
  PRIMARY KEY (device_id, seq)
)${noRowid};
CREATE INDEX fixes_device_time ON fixes (device_id, time);
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY,
  max_seq ${big} NOT NULL,
  fix_count ${big} NOT NULL,
  dropped_through ${big} NOT NULL,
  last_time ${big} NOT NULL,
  last_seq ${big} NOT NULL,
  last_seen ${big} NOT NULL
);
CREATE TABLE trip_days (
  device_id TEXT NOT NULL,
  day TEXT NOT NULL,
  distance_m ${real} NOT NULL,
  moving_s ${real} NOT NULL,
  max_speed_mps ${real} NOT NULL,
  fixes ${big} NOT NULL,
  first_time ${big} NOT NULL,
  last_time ${big} NOT NULL,
  PRIMARY KEY (device_id, day)
);
CREATE TABLE trip_state (
  device_id TEXT PRIMARY KEY,
  last_seq ${big} NOT NULL,
  last_time ${big} NOT NULL,
  last_lat ${real} NOT NULL,
  last_lon ${real} NOT NULL,
  anchor_lat ${real} NOT NULL,
  anchor_lon ${real} NOT NULL
);
`;
}

// See ingest/db/fix-minutes.ts. The backfill is one pass over the table (times are positive, so
// SQLite's integer division is the floor that minuteOf() takes).
const FIX_MINUTES_V4 = `
CREATE TABLE fix_minutes (
  device_id TEXT NOT NULL,
  minute INTEGER NOT NULL,
  min_seq INTEGER NOT NULL,
  max_seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, minute)
) WITHOUT ROWID;
INSERT INTO fix_minutes (device_id, minute, min_seq, max_seq)
  SELECT device_id, time / ${MINUTE_MS}, min(seq), max(seq) FROM fixes GROUP BY device_id, time / ${MINUTE_MS};
DROP INDEX fixes_device_time;
`;

// A seq the fix-store group dead-lettered (a future date, a latitude of 95...). rejected_devices
// counts them per device in the same transaction: one small read tells which devices changed
// since the last look (ingest/db/rejected.ts), without scanning rejected_seqs.
function rejectedV6(d: Dialect): string {
  const big = d === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return `CREATE TABLE rejected_seqs (
  device_id TEXT NOT NULL,
  seq ${big} NOT NULL,
  reason TEXT NOT NULL,
  rejected_at ${big} NOT NULL,
  PRIMARY KEY (device_id, seq)
)${d === 'sqlite' ? ' WITHOUT ROWID' : ''};
CREATE TABLE rejected_devices (
  device_id TEXT PRIMARY KEY,
  seqs ${big} NOT NULL
);`;
}

export function migrations(d: Dialect): Migration[] {
  return [
    { version: 1, name: 'fixes, devices, trips', sql: schemaV1(d) },
    {
      version: 2,
      name: 'trip_state.applied: seqs folded in, so a redelivery is skipped instead of rebuilt',
      sql: `ALTER TABLE trip_state ADD COLUMN applied TEXT NOT NULL DEFAULT '[]';`,
    },
    {
      version: 3,
      name: 'trip_state.version: bumped by every write, so a state kept in memory is known stale',
      sql: `ALTER TABLE trip_state ADD COLUMN version ${d === 'sqlite' ? 'INTEGER' : 'BIGINT'} NOT NULL DEFAULT 0;`,
    },
    {
      version: 4,
      name: 'fix_minutes: per device and minute the seq range of its fixes, in place of the (device_id, time) index (SQLite)',
      sql:
        d === 'sqlite'
          ? FIX_MINUTES_V4
          : '-- PostgreSQL keeps fixes_device_time (ingest/db/fix-minutes.ts says why)',
    },
    {
      version: 5,
      name: 'trip_state.anchor_time, anchor_seen, last_speed: when the anchor was set and last confirmed, the last reported speed (moving time, wild fixes, speed spikes)',
      // A state written before: its last fix stands in for both, as a rebuild's anchor does.
      sql: `ALTER TABLE trip_state ADD COLUMN anchor_time ${d === 'sqlite' ? 'INTEGER' : 'BIGINT'} NOT NULL DEFAULT 0;
ALTER TABLE trip_state ADD COLUMN anchor_seen ${d === 'sqlite' ? 'INTEGER' : 'BIGINT'} NOT NULL DEFAULT 0;
ALTER TABLE trip_state ADD COLUMN last_speed ${d === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION'};
UPDATE trip_state SET anchor_time = last_time, anchor_seen = last_time;`,
    },
    {
      version: 6,
      name: 'rejected_seqs, rejected_devices: seqs the cloud received and dead-lettered, so they show as rejected, not as a gap that never fills',
      sql: rejectedV6(d),
    },
  ];
}

export const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;
