// PostgreSQL backend (pg): production, DATABASE_URL.
//
// Batch insert, measured in bench/ingest.ts, picked by size ('auto', the default):
//   - INSERT ... SELECT FROM unnest(array per column) ON CONFLICT DO NOTHING RETURNING the new
//     keys: one statement, 14 parameters whatever the size; fastest for the few hundred rows a
//     steady-traffic flush holds (500 rows: ~50k fixes/s against COPY's ~25-39k).
//   - COPY into a staging table, then INSERT ... SELECT ... ON CONFLICT (db/pg-copy.ts): COPY cannot
//     skip conflicts itself, so two passes, but it wins from ~5000 rows on (20000 rows: ~85k
//     against unnest's ~41-55k), which is what a backlog catch-up writes.
import pg from 'pg';
import type { Fix } from '../../shared/fix.js';
import type { TripDay } from '../trips/accumulate.js';
import { applyTripsTx, type StateWrite, type TripTx } from '../trips/apply.js';
import { type Checkpoints, checkpointsFor } from '../trips/checkpoints.js';
import { parseRanges } from '../trips/ranges.js';
import { type StagedTrips, TripStateCache } from '../trips/state-cache.js';
import {
  GAP_DEVICES_SQL,
  GAP_SQL,
  type GapDeviceRow,
  GapReport,
  gapDeviceCounters,
  SEQS_BETWEEN_SQL,
  toRanges,
} from './gaps.js';
import { KNOWS_DEVICE_SQL } from './known-device.js';
import { CREATE_MIGRATIONS_TABLE, migrations } from './migrations.js';
import { copyFixes } from './pg-copy.js';
import {
  ADD_REJECTED_COUNT_SQL,
  countByDevice,
  LAST_REJECTED_SQL,
  type LastRejectedRow,
  REJECTED_COUNTS_SQL,
  REJECTED_SEQS_SQL,
  type RejectedSeq,
  storedReason,
} from './rejected.js';
import { deviceDeltas, type FixRow, rowToFix, sortedFixes, uniqueFixes } from './rows.js';
import { type DeviceSummary, type Fleet, noTripWork, type Store, type TripApplyResult } from './store.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresOptions {
  connectionString: string;
  /** Schema holding the tables (created if missing); tests use a unique one per run. */
  schema?: string;
  /** Pool size; the consumer groups each hold at most one connection per transaction. */
  max?: number;
  /** Batch insert: 'auto' (default: unnest below COPY_FROM_ROWS rows, COPY from there), or forced. */
  insertMethod?: InsertMethod;
}

export type InsertMethod = 'unnest' | 'copy' | 'auto';

/** From this many rows a flush goes through COPY (bench/ingest.ts: the crossover is ~5000). */
export const COPY_FROM_ROWS = 5000;

const INSERT_FIXES = `INSERT INTO fixes (device_id, seq, time, lat, lon, alt, speed, course, hdop, sats, mode,
    quality, dropped_through, received_at)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[],
    $7::float8[], $8::float8[], $9::float8[], $10::smallint[], $11::smallint[], $12::smallint[],
    $13::bigint[], $14::bigint[])
  ON CONFLICT (device_id, seq) DO NOTHING
  RETURNING device_id, seq`;

const UPSERT_DEVICES = `INSERT INTO devices AS d (device_id, max_seq, fix_count, dropped_through, last_time,
    last_seq, last_seen)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
    $7::bigint[])
  ON CONFLICT (device_id) DO UPDATE SET
    max_seq = GREATEST(d.max_seq, excluded.max_seq),
    fix_count = d.fix_count + excluded.fix_count,
    dropped_through = GREATEST(d.dropped_through, excluded.dropped_through),
    last_seq = CASE WHEN excluded.last_time > d.last_time
      OR (excluded.last_time = d.last_time AND excluded.last_seq > d.last_seq)
      THEN excluded.last_seq ELSE d.last_seq END,
    last_time = GREATEST(d.last_time, excluded.last_time),
    last_seen = excluded.last_seen`;

type Queryable = pg.Pool | pg.PoolClient;

// Array parameters as literals made here: pg's own serializer turns every element into a string
// and quotes it with two regex replaces, numbers too, which was ~5 us of Node CPU a fix over a
// steady trips flush (insert, devices, states, rows). Numbers go unquoted (String(n), as pg has
// it), NULL for null or undefined; text is quoted and escaped as pg does.
function nums<T>(items: readonly T[], get: (x: T) => number | null | undefined): string {
  let s = '{';
  for (let i = 0; i < items.length; i++) {
    const v = get(items[i]!);
    if (i > 0) s += ',';
    s += v === null || v === undefined ? 'NULL' : String(v);
  }
  return `${s}}`;
}

function texts<T>(items: readonly T[], get: (x: T) => string): string {
  let s = '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) s += ',';
    s += `"${get(items[i]!).replace(/[\\"]/g, '\\$&')}"`;
  }
  return `${s}}`;
}

/** Inserts fixes and folds the new ones into devices, inside the caller's transaction. */
export async function insertFixesPg(
  q: pg.PoolClient,
  fixes: readonly Fix[],
  method: InsertMethod = 'auto',
): Promise<number> {
  const rows = uniqueFixes(sortedFixes(fixes));
  if (rows.length === 0) return 0;
  const now = Date.now();
  const copy = method === 'copy' || (method === 'auto' && rows.length >= COPY_FROM_ROWS);
  const inserted = copy ? await copyFixes(q, rows, now) : await unnestFixes(q, rows, now);
  if (inserted.length === 0) return 0;
  const isNew = new Set(inserted.map((r) => `${r.seq}\u0000${r.device_id}`));
  const deltas = deviceDeltas(rows.filter((f) => isNew.has(`${f.seq}\u0000${f.deviceId}`)));
  await q.query(UPSERT_DEVICES, [
    texts(deltas, (d) => d.deviceId),
    nums(deltas, (d) => d.maxSeq),
    nums(deltas, (d) => d.added),
    nums(deltas, (d) => d.droppedThrough),
    nums(deltas, (d) => d.lastTime),
    nums(deltas, (d) => d.lastSeq),
    nums(deltas, () => now),
  ]);
  return inserted.length;
}

async function unnestFixes(q: Queryable, rows: Fix[], now: number) {
  const res = await q.query<{ device_id: string; seq: string }>(INSERT_FIXES, [
    texts(rows, (f) => f.deviceId),
    nums(rows, (f) => f.seq),
    nums(rows, (f) => f.time),
    nums(rows, (f) => f.lat),
    nums(rows, (f) => f.lon),
    nums(rows, (f) => f.alt),
    nums(rows, (f) => f.speed),
    nums(rows, (f) => f.course),
    nums(rows, (f) => f.hdop),
    nums(rows, (f) => f.sats),
    nums(rows, (f) => f.mode),
    nums(rows, (f) => f.quality),
    nums(rows, (f) => f.droppedThrough),
    nums(rows, () => now),
  ]);
  return res.rows;
}

interface TripRow {
  device_id: string;
  day: string;
  distance_m: number;
  moving_s: number;
  max_speed_mps: number;
  fixes: string;
  first_time: string;
  last_time: string;
}

const tripFromRow = (r: TripRow): TripDay => ({
  deviceId: r.device_id,
  day: r.day,
  distanceM: r.distance_m,
  movingS: r.moving_s,
  maxSpeedMps: r.max_speed_mps,
  fixes: Number(r.fixes),
  firstTime: Number(r.first_time),
  lastTime: Number(r.last_time),
});

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly insertMethod: InsertMethod;
  /** Trip states kept after commit (ingest/trips/state-cache.ts). */
  private readonly tripCache = new TripStateCache();

  constructor(opts: PostgresOptions) {
    this.schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new Error(`postgres schema ${JSON.stringify(this.schema)} is not a plain lower-case identifier`);
    }
    this.insertMethod = opts.insertMethod ?? 'auto';
    this.pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.max ?? 4,
      options: `-c search_path=${this.schema}`,
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    // Nor a checked-out one: pg emits a lost connection (the server's "terminating connection",
    // a reset) on the client when no query of it is in flight, and the pool listens only while
    // the client is idle. The error can come in the same socket read that completes the client's
    // checkout, before its holder runs a line, so each client gets a listener for its whole life;
    // the holder learns of it from its next query ("not queryable").
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /** Runs fn in a transaction on one pooled connection; commits when it resolves. */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    // A connection lost meanwhile (the constructor's listener keeps it from ending the process)
    // fails the next statement, so the transaction, and the flush is retried.
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      // A connection that cannot even roll back is gone: the pool must not hand it out again.
      await c.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    await this.tx(async (c) => {
      // Two processes starting together: the second waits here, then finds the versions applied.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fleet-migrate:${this.schema}`]);
      await c.query(CREATE_MIGRATIONS_TABLE);
      const done = new Set(
        (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      for (const m of migrations('postgres')) {
        if (done.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          new Date().toISOString(),
        ]);
      }
    });
  }

  async writeFixes(fixes: readonly Fix[]): Promise<number> {
    if (fixes.length === 0) return 0;
    return this.tx((c) => insertFixesPg(c, fixes, this.insertMethod));
  }

  async writeRejected(rejected: readonly RejectedSeq[]): Promise<number> {
    if (rejected.length === 0) return 0;
    return this.tx(async (c) => {
      // DO NOTHING also skips a pair given twice in this one statement; RETURNING names the new ones.
      const added = await c.query<{ device_id: string }>(
        `INSERT INTO rejected_seqs (device_id, seq, reason, rejected_at)
         SELECT d, s, r, $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(d, s, r)
         ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id`,
        [
          rejected.map((r) => r.deviceId),
          rejected.map((r) => r.seq),
          rejected.map((r) => storedReason(r.reason)),
          Date.now(),
        ],
      );
      const rows = added.rows.map((r) => ({ deviceId: r.device_id }));
      for (const [deviceId, n] of countByDevice(rows)) await c.query(ADD_REJECTED_COUNT_SQL, [deviceId, n]);
      return rows.length;
    });
  }

  async track(deviceId: string, fromMs: number, toMs: number, limit: number): Promise<Fix[]> {
    const r = await this.pool.query<FixRow>(
      'SELECT * FROM fixes WHERE device_id = $1 AND time >= $2 AND time < $3 ORDER BY time, seq LIMIT $4',
      [deviceId, fromMs, toMs, limit],
    );
    return r.rows.map(rowToFix);
  }

  async applyTrips(fixes: readonly Fix[]): Promise<TripApplyResult> {
    if (fixes.length === 0) return noTripWork();
    const staged = this.tripCache.stage();
    const res = await this.tx((c) => applyTripsTx(tripTx(c, checkpointsFor(this), staged), fixes));
    staged.install(); // only now: what a rolled-back transaction folded is never kept
    return res;
  }

  async trips(deviceId: string, fromDay = '0000-00-00', toDay = '9999-99-99'): Promise<TripDay[]> {
    const r = await this.pool.query<TripRow>(
      'SELECT * FROM trip_days WHERE device_id = $1 AND day >= $2 AND day <= $3 ORDER BY day',
      [deviceId, fromDay, toDay],
    );
    return r.rows.map(tripFromRow);
  }

  private readonly gapReport = new GapReport(
    {
      allGaps: async (deviceId, maxSeq) =>
        toRanges((await this.pool.query(GAP_SQL, [deviceId, maxSeq])).rows),
      seqsBetween: async (deviceId, from, to) =>
        (await this.pool.query<{ seq: string }>(SEQS_BETWEEN_SQL, [deviceId, from, to])).rows.map((r) =>
          Number(r.seq),
        ),
    },
    {
      counts: async () =>
        new Map(
          (await this.pool.query<{ device_id: string; seqs: string }>(REJECTED_COUNTS_SQL)).rows.map((r) => [
            r.device_id,
            Number(r.seqs),
          ]),
        ),
      seqs: async (deviceId) =>
        (await this.pool.query<{ seq: string }>(REJECTED_SEQS_SQL, [deviceId])).rows.map((r) =>
          Number(r.seq),
        ),
    },
  );

  async devices(): Promise<DeviceSummary[]> {
    return (await this.fleet()).stored;
  }

  async fleet(): Promise<Fleet> {
    const [r, refusals] = await Promise.all([
      this.pool.query<FixRow & { max_seq: string; fix_count: string; d_dropped: string; last_seen: string }>(
        `SELECT f.*, d.max_seq, d.fix_count, d.dropped_through AS d_dropped, d.last_seen
         FROM devices d JOIN fixes f ON f.device_id = d.device_id AND f.seq = d.last_seq
         ORDER BY d.device_id`,
      ),
      this.pool.query<LastRejectedRow>(LAST_REJECTED_SQL),
    ]);
    return this.gapReport.fleet(
      r.rows.map((row) => ({
        deviceId: row.device_id,
        lastFix: rowToFix(row),
        lastSeenMs: Number(row.last_seen),
        maxSeq: Number(row.max_seq),
        fixCount: Number(row.fix_count),
        droppedThrough: Number(row.d_dropped),
      })),
      refusals.rows,
    );
  }

  async gapTotals(): Promise<{ missing: number; lost: number; rejected: number }> {
    const devs = await this.pool.query<GapDeviceRow>(GAP_DEVICES_SQL);
    return this.gapReport.totals(devs.rows.map(gapDeviceCounters));
  }

  async knowsDevice(deviceId: string): Promise<boolean> {
    const r = await this.pool.query<{ known: number }>(KNOWS_DEVICE_SQL, [deviceId, deviceId]);
    return Number(r.rows[0]?.known) === 1;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Drops the schema and everything in it (tests and benchmarks clean up with this). */
  async dropSchema(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

// Only over the version the state was read (or kept) with: a device missing from RETURNING was
// written by someone else since. One statement for all the devices of a flush.
const UPDATE_STATES = `UPDATE trip_state AS t SET last_seq = u.last_seq, last_time = u.last_time,
    last_lat = u.last_lat, last_lon = u.last_lon, anchor_lat = u.anchor_lat, anchor_lon = u.anchor_lon,
    anchor_time = u.anchor_time, anchor_seen = u.anchor_seen, last_speed = u.last_speed, applied = u.applied,
    version = t.version + 1
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
    $8::bigint[], $9::bigint[], $10::float8[], $11::text[], $12::bigint[])
    AS u(device_id, last_seq, last_time, last_lat, last_lon, anchor_lat, anchor_lon, anchor_time, anchor_seen,
      last_speed, applied, version)
  WHERE t.device_id = u.device_id AND t.version = u.version
  RETURNING t.device_id`;

const INSERT_STATES = `INSERT INTO trip_state (device_id, last_seq, last_time, last_lat, last_lon, anchor_lat,
    anchor_lon, anchor_time, anchor_seen, last_speed, applied, version)
  SELECT u.*, 1 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[],
    $7::float8[], $8::bigint[], $9::bigint[], $10::float8[], $11::text[]) AS u
  ON CONFLICT (device_id) DO NOTHING
  RETURNING device_id`;

async function putStatesPg(c: pg.PoolClient, writes: readonly StateWrite[]): Promise<Set<string>> {
  const stale = new Set<string>();
  const updates = writes.filter((w) => w.version !== null);
  const inserts = writes.filter((w) => w.version === null);
  for (const [sql, list] of [
    [UPDATE_STATES, updates],
    [INSERT_STATES, inserts],
  ] as const) {
    if (list.length === 0) continue;
    const params: unknown[] = [
      texts(list, (w) => w.deviceId),
      nums(list, (w) => w.state.cursor.lastSeq),
      nums(list, (w) => w.state.cursor.lastTime),
      nums(list, (w) => w.state.cursor.lastLat),
      nums(list, (w) => w.state.cursor.lastLon),
      nums(list, (w) => w.state.cursor.anchorLat),
      nums(list, (w) => w.state.cursor.anchorLon),
      nums(list, (w) => w.state.cursor.anchorTime),
      nums(list, (w) => w.state.cursor.anchorSeen),
      nums(list, (w) => w.state.cursor.lastSpeed),
      texts(list, (w) => JSON.stringify(w.state.applied)),
    ];
    if (sql === UPDATE_STATES) params.push(nums(list, (w) => w.version));
    const r = await c.query<{ device_id: string }>(sql, params);
    const written = new Set(r.rows.map((row) => row.device_id));
    for (const w of list) if (!written.has(w.deviceId)) stale.add(w.deviceId);
  }
  return stale;
}

function tripTx(c: pg.PoolClient, checkpoints: Checkpoints, cache: StagedTrips): TripTx {
  return {
    checkpoints,
    cache,
    insertFixes: (fixes) => insertFixesPg(c, fixes),
    getState: async (deviceId) => {
      const r = await c.query('SELECT * FROM trip_state WHERE device_id = $1 FOR UPDATE', [deviceId]);
      const row = r.rows[0];
      return row
        ? {
            cursor: {
              lastSeq: Number(row.last_seq),
              lastTime: Number(row.last_time),
              lastLat: row.last_lat,
              lastLon: row.last_lon,
              anchorLat: row.anchor_lat,
              anchorLon: row.anchor_lon,
              anchorTime: Number(row.anchor_time),
              anchorSeen: Number(row.anchor_seen),
              lastSpeed: row.last_speed,
            },
            applied: parseRanges(row.applied),
            version: Number(row.version),
          }
        : null;
    },
    putStates: (writes) => putStatesPg(c, writes),
    getDays: async (deviceId, days) => {
      const r = await c.query<TripRow>(
        'SELECT * FROM trip_days WHERE device_id = $1 AND day = ANY($2::text[]) ORDER BY day',
        [deviceId, days],
      );
      return r.rows.map(tripFromRow);
    },
    putDays: async (rows) => {
      if (rows.length === 0) return;
      await c.query(
        `INSERT INTO trip_days (device_id, day, distance_m, moving_s, max_speed_mps, fixes, first_time, last_time)
         SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::bigint[],
           $7::bigint[], $8::bigint[])
         ON CONFLICT (device_id, day) DO UPDATE SET distance_m = excluded.distance_m,
           moving_s = excluded.moving_s, max_speed_mps = excluded.max_speed_mps, fixes = excluded.fixes,
           first_time = excluded.first_time, last_time = excluded.last_time`,
        [
          texts(rows, (r) => r.deviceId),
          texts(rows, (r) => r.day),
          nums(rows, (r) => r.distanceM),
          nums(rows, (r) => r.movingS),
          nums(rows, (r) => r.maxSpeedMps),
          nums(rows, (r) => r.fixes),
          nums(rows, (r) => r.firstTime),
          nums(rows, (r) => r.lastTime),
        ],
      );
    },
    deleteDaysFrom: async (deviceId, day) => {
      await c.query('DELETE FROM trip_days WHERE device_id = $1 AND day >= $2', [deviceId, day]);
    },
    fixesFrom: async (deviceId, fromMs) =>
      (
        await c.query<FixRow>('SELECT * FROM fixes WHERE device_id = $1 AND time >= $2 ORDER BY time, seq', [
          deviceId,
          fromMs,
        ])
      ).rows.map(rowToFix),
    lastFixBefore: async (deviceId, ms) => {
      const r = await c.query<FixRow>(
        'SELECT * FROM fixes WHERE device_id = $1 AND time < $2 ORDER BY time DESC, seq DESC LIMIT 1',
        [deviceId, ms],
      );
      return r.rows[0] ? rowToFix(r.rows[0]) : null;
    },
    // One statement, so the count and the fixes come from the same snapshot (READ COMMITTED).
    fixesFromCounted: async (deviceId, fromMs) => {
      const r = await c.query<FixRow & { fix_count: string }>(
        `SELECT d.fix_count, f.* FROM devices d
           LEFT JOIN fixes f ON f.device_id = d.device_id AND f.time >= $2
         WHERE d.device_id = $1 ORDER BY f.time, f.seq`,
        [deviceId, fromMs],
      );
      const fixes = r.rows.filter((row) => row.seq !== null).map(rowToFix);
      return { fixes, before: r.rows[0] ? Number(r.rows[0].fix_count) - fixes.length : 0 };
    },
  };
}
