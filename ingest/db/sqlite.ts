// SQLite backend (better-sqlite3): the embedded default, one database file.
//
// WAL with synchronous=FULL: a commit is on disk when writeFixes resolves, because the consumer
// commits Kafka offsets right after and a fix lost to a power cut would then be lost for good.
// better-sqlite3 is synchronous; the async trips transaction holds a mutex so no other write can
// slip into it between awaits. Stores on other threads of the process that write the same file
// (fix-store members, INGEST_FIX_STORE_MEMBERS) share a ThreadWriteLock as well (it says why).
import Database from 'better-sqlite3';
import type { Fix } from '../../shared/fix.js';
import type { TripDay } from '../trips/accumulate.js';
import { applyTripsTx, type TripTx } from '../trips/apply.js';
import { checkpointsFor } from '../trips/checkpoints.js';
import { parseRanges } from '../trips/ranges.js';
import { type StagedTrips, TripStateCache } from '../trips/state-cache.js';
import {
  FIXES_FROM_SQL,
  LAST_FIX_BEFORE_SQL,
  LAST_MINUTE,
  minuteOf,
  minuteSpans,
  TRACK_SQL,
  UPSERT_MINUTE_SQL,
} from './fix-minutes.js';
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
import { Mutex } from './mutex.js';
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
import { type DeviceDelta, deviceDeltas, type FixRow, rowToFix, sortedFixes } from './rows.js';
import { SqliteFixRows } from './sqlite-fix-rows.js';
import { refuseForeignDatabase } from './sqlite-foreign.js';
import { type DeviceSummary, type Fleet, noTripWork, type Store, type TripApplyResult } from './store.js';
import { ThreadWriteLock } from './thread-write-lock.js';

/**
 * SQL written for both dialects, with SQLite's `?` for PostgreSQL's `$n`. Only for statements
 * that use each `$n` once and in order, as the shared ones here do.
 */
const positional = (sql: string): string => sql.replace(/\$\d+/g, '?');

/**
 * The WAL is copied into the database file (a checkpoint, with its own fsyncs) once it holds this
 * many pages: SQLite's default, set here so that nobody raises it without the live figures.
 * 10,000 pages made the write path alone 20-25% faster (each device's last leaf page is copied
 * once per checkpoint, not every second flush) and a backlog end to end 1-22%, but beside the
 * live group at 10,000 riders (bench/live.ts all) the p99 went 40/82/57 -> 69/153/96 ms in paired
 * runs: the larger checkpoints' write-back held up the co-located broker's fsyncs (its produce
 * p99 rose with them), and the larger WAL index cost CPU on every page read. 3,000 was between.
 */
export const WAL_CHECKPOINT_PAGES = 1000;

interface DeviceRow extends FixRow {
  max_seq: number;
  fix_count: number;
  d_dropped: number;
  last_seen: number;
}

interface TripRow {
  device_id: string;
  day: string;
  distance_m: number;
  moving_s: number;
  max_speed_mps: number;
  fixes: number;
  first_time: number;
  last_time: number;
}

const tripFromRow = (r: TripRow): TripDay => ({
  deviceId: r.device_id,
  day: r.day,
  distanceM: r.distance_m,
  movingS: r.moving_s,
  maxSpeedMps: r.max_speed_mps,
  fixes: r.fixes,
  firstTime: r.first_time,
  lastTime: r.last_time,
});

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly lock = new Mutex();
  /** Shared with the other threads writing this file, when there are any. */
  private readonly threadLock: ThreadWriteLock | undefined;
  private stmts: ReturnType<SqliteStore['prepare']> | undefined;
  /** Trip states kept after commit (ingest/trips/state-cache.ts). */
  private readonly tripCache = new TripStateCache();

  /** `writeLock`: ThreadWriteLock.create()'s buffer, the same in every thread writing `path`. */
  constructor(
    readonly path: string,
    opts: { writeLock?: SharedArrayBuffer | undefined } = {},
  ) {
    this.threadLock = opts.writeLock && new ThreadWriteLock(opts.writeLock);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    // Readers (the HTTP API in the same process) never block on a write for long; wait, don't fail.
    this.db.pragma('busy_timeout = 5000');
  }

  /** A write transaction: one at a time in this store, and across the threads sharing the lock. */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    const shared = this.threadLock;
    return this.lock.run(shared ? () => shared.run(fn) : fn);
  }

  async migrate(): Promise<void> {
    await this.write(async () => {
      // One IMMEDIATE transaction: a second process starting at the same time waits, then sees the
      // versions this one applied.
      this.db
        .transaction(() => {
          refuseForeignDatabase(this.db);
          this.db.exec(CREATE_MIGRATIONS_TABLE);
          const done = new Set(
            (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
              (r) => r.version,
            ),
          );
          for (const m of migrations('sqlite')) {
            if (done.has(m.version)) continue;
            this.db.exec(m.sql);
            this.db
              .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
              .run(m.version, m.name, new Date().toISOString());
          }
        })
        .immediate();
      this.stmts = this.prepare();
    });
  }

  private prepare() {
    const db = this.db;
    return {
      fixRows: new SqliteFixRows(db),
      upsertDevice: db.prepare(
        `INSERT INTO devices (device_id, max_seq, fix_count, dropped_through, last_time, last_seq, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET
           max_seq = max(max_seq, excluded.max_seq),
           fix_count = fix_count + excluded.fix_count,
           dropped_through = max(dropped_through, excluded.dropped_through),
           last_seq = CASE WHEN excluded.last_time > last_time
             OR (excluded.last_time = last_time AND excluded.last_seq > last_seq)
             THEN excluded.last_seq ELSE last_seq END,
           last_time = max(last_time, excluded.last_time),
           last_seen = excluded.last_seen`,
      ),
      upsertMinute: db.prepare(UPSERT_MINUTE_SQL),
      track: db.prepare(TRACK_SQL),
      devices: db.prepare(
        `SELECT f.*, d.max_seq, d.fix_count, d.dropped_through AS d_dropped, d.last_seen
         FROM devices d JOIN fixes f ON f.device_id = d.device_id AND f.seq = d.last_seq
         ORDER BY d.device_id`,
      ),
      gapDevices: db.prepare(GAP_DEVICES_SQL),
      gaps: db.prepare(positional(GAP_SQL)),
      insertRejected: db.prepare(
        `INSERT INTO rejected_seqs (device_id, seq, reason, rejected_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (device_id, seq) DO NOTHING`,
      ),
      addRejectedCount: db.prepare(positional(ADD_REJECTED_COUNT_SQL)),
      rejectedCounts: db.prepare(REJECTED_COUNTS_SQL).raw(),
      rejectedSeqs: db.prepare(positional(REJECTED_SEQS_SQL)).pluck(),
      lastRejected: db.prepare(LAST_REJECTED_SQL),
      seqsBetween: db.prepare(positional(SEQS_BETWEEN_SQL)).pluck(),
      getCursor: db.prepare('SELECT * FROM trip_state WHERE device_id = ?'),
      // Only over the version the state was read (or kept) with: changes 0 means someone else wrote it.
      updateState: db.prepare(
        `UPDATE trip_state SET last_seq = ?, last_time = ?, last_lat = ?, last_lon = ?, anchor_lat = ?,
           anchor_lon = ?, anchor_time = ?, anchor_seen = ?, last_speed = ?, applied = ?, version = version + 1
         WHERE device_id = ? AND version = ?`,
      ),
      insertState: db.prepare(
        `INSERT INTO trip_state (last_seq, last_time, last_lat, last_lon, anchor_lat, anchor_lon, anchor_time,
           anchor_seen, last_speed, applied, device_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (device_id) DO NOTHING`,
      ),
      getDay: db.prepare('SELECT * FROM trip_days WHERE device_id = ? AND day = ?'),
      // An upsert, not INSERT OR REPLACE: REPLACE deletes the row and inserts it again (a new
      // rowid, the key index rewritten), which dirtied more pages for the commit to write; scattered
      // over 100,000 rows, 2,500 rows a commit cost 12.6 us a row that way against 9.9.
      putDay: db.prepare(
        `INSERT INTO trip_days (device_id, day, distance_m, moving_s, max_speed_mps, fixes, first_time,
           last_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device_id, day) DO UPDATE SET distance_m = excluded.distance_m,
           moving_s = excluded.moving_s, max_speed_mps = excluded.max_speed_mps, fixes = excluded.fixes,
           first_time = excluded.first_time, last_time = excluded.last_time`,
      ),
      deleteDaysFrom: db.prepare('DELETE FROM trip_days WHERE device_id = ? AND day >= ?'),
      fixesFrom: db.prepare(FIXES_FROM_SQL),
      fixCount: db.prepare('SELECT fix_count FROM devices WHERE device_id = ?').pluck(),
      lastFixBefore: db.prepare(LAST_FIX_BEFORE_SQL),
      knowsDevice: db.prepare(positional(KNOWS_DEVICE_SQL)).pluck(),
      trips: db.prepare('SELECT * FROM trip_days WHERE device_id = ? AND day >= ? AND day <= ? ORDER BY day'),
    };
  }

  private get s() {
    if (!this.stmts) throw new Error('SqliteStore: call migrate() before using the store');
    return this.stmts;
  }

  /** Inserts without its own transaction; returns the fixes that were new. */
  private insert(fixes: readonly Fix[]): Fix[] {
    const now = Date.now();
    // A fix twice in one batch (a producer retry) conflicts with its first copy, inserted just
    // before it (sortedFixes is stable): first one wins, as uniqueFixes() does for PostgreSQL,
    // without the extra pass and array (~3% of the write path).
    const inserted = this.s.fixRows.insert(sortedFixes(fixes), now);
    for (const d of deviceDeltas(inserted)) this.upsertDevice(d, now);
    const m = this.s.upsertMinute;
    for (const s of minuteSpans(inserted)) m.run(s.deviceId, s.minute, s.minSeq, s.maxSeq);
    return inserted;
  }

  private upsertDevice(d: DeviceDelta, now: number): void {
    // Positional: binding by name (an object spread per device, then a lookup per parameter) cost
    // ~3-4 us a device against ~1.5.
    this.s.upsertDevice.run(d.deviceId, d.maxSeq, d.added, d.droppedThrough, d.lastTime, d.lastSeq, now);
  }

  async writeFixes(fixes: readonly Fix[]): Promise<number> {
    if (fixes.length === 0) return 0;
    return this.write(async () => this.db.transaction(() => this.insert(fixes).length).immediate());
  }

  async writeRejected(rejected: readonly RejectedSeq[]): Promise<number> {
    if (rejected.length === 0) return 0;
    return this.write(async () =>
      this.db
        .transaction(() => {
          const now = Date.now();
          const added = rejected.filter(
            (r) => this.s.insertRejected.run(r.deviceId, r.seq, storedReason(r.reason), now).changes > 0,
          );
          for (const [deviceId, n] of countByDevice(added)) this.s.addRejectedCount.run(deviceId, n);
          return added.length;
        })
        .immediate(),
    );
  }

  async track(deviceId: string, fromMs: number, toMs: number, limit: number): Promise<Fix[]> {
    if (!(toMs > fromMs)) return [];
    const rows = this.s.track.all(deviceId, minuteOf(fromMs), minuteOf(toMs - 1), fromMs, toMs, limit);
    return (rows as FixRow[]).map(rowToFix);
  }

  async applyTrips(fixes: readonly Fix[]): Promise<TripApplyResult> {
    if (fixes.length === 0) return noTripWork();
    return this.write(async () => {
      const staged = this.tripCache.stage();
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const res = await applyTripsTx(this.tripTx(staged), fixes);
        this.db.exec('COMMIT');
        staged.install(); // only now: what a rolled-back transaction folded is never kept
        return res;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  private tripTx(cache: StagedTrips): TripTx {
    const s = this.s;
    return {
      checkpoints: checkpointsFor(this),
      cache,
      insertFixes: async (fixes) => this.insert(fixes).length,
      getState: async (deviceId) => {
        const r = s.getCursor.get(deviceId) as
          | {
              last_seq: number;
              last_time: number;
              last_lat: number;
              last_lon: number;
              anchor_lat: number;
              anchor_lon: number;
              anchor_time: number;
              anchor_seen: number;
              last_speed: number | null;
              applied: string;
              version: number;
            }
          | undefined;
        return r
          ? {
              cursor: {
                lastSeq: r.last_seq,
                lastTime: r.last_time,
                lastLat: r.last_lat,
                lastLon: r.last_lon,
                anchorLat: r.anchor_lat,
                anchorLon: r.anchor_lon,
                anchorTime: r.anchor_time,
                anchorSeen: r.anchor_seen,
                lastSpeed: r.last_speed,
              },
              applied: parseRanges(r.applied),
              version: r.version,
            }
          : null;
      },
      putStates: async (writes) => {
        const stale = new Set<string>();
        for (const { deviceId, state, version } of writes) {
          const c = state.cursor;
          const args = [
            c.lastSeq,
            c.lastTime,
            c.lastLat,
            c.lastLon,
            c.anchorLat,
            c.anchorLon,
            c.anchorTime,
            c.anchorSeen,
            c.lastSpeed,
            JSON.stringify(state.applied),
            deviceId,
          ];
          const r = version === null ? s.insertState.run(...args) : s.updateState.run(...args, version);
          if (r.changes === 0) stale.add(deviceId);
        }
        return stale;
      },
      getDays: async (deviceId, days) =>
        days.flatMap((day) => {
          const r = s.getDay.get(deviceId, day) as TripRow | undefined;
          return r ? [tripFromRow(r)] : [];
        }),
      putDays: async (rows) => {
        for (const r of rows) {
          s.putDay.run(
            r.deviceId,
            r.day,
            r.distanceM,
            r.movingS,
            r.maxSpeedMps,
            r.fixes,
            r.firstTime,
            r.lastTime,
          );
        }
      },
      deleteDaysFrom: async (deviceId, day) => {
        s.deleteDaysFrom.run(deviceId, day);
      },
      fixesFrom: async (deviceId, fromMs) => this.fixesFrom(deviceId, fromMs),
      lastFixBefore: async (deviceId, ms) => {
        const r = s.lastFixBefore.get(deviceId, 0, minuteOf(ms - 1), ms) as FixRow | undefined;
        return r ? rowToFix(r) : null;
      },
      // Two statements, one snapshot: this runs inside the trips transaction (BEGIN IMMEDIATE).
      fixesFromCounted: async (deviceId, fromMs) => {
        const count = s.fixCount.get(deviceId) as number | undefined;
        const fixes = this.fixesFrom(deviceId, fromMs);
        return { fixes, before: count === undefined ? 0 : count - fixes.length };
      },
    };
  }

  private fixesFrom(deviceId: string, fromMs: number): Fix[] {
    const rows = this.s.fixesFrom.all(deviceId, minuteOf(fromMs), LAST_MINUTE, fromMs) as FixRow[];
    return rows.map(rowToFix);
  }

  async trips(deviceId: string, fromDay = '0000-00-00', toDay = '9999-99-99'): Promise<TripDay[]> {
    return (this.s.trips.all(deviceId, fromDay, toDay) as TripRow[]).map(tripFromRow);
  }

  private readonly gapReport = new GapReport(
    {
      allGaps: async (deviceId, maxSeq) =>
        toRanges(this.s.gaps.all(deviceId, maxSeq) as { from_seq: number; to_seq: number }[]),
      seqsBetween: async (deviceId, from, to) => this.s.seqsBetween.all(deviceId, from, to) as number[],
    },
    {
      counts: async () => new Map(this.s.rejectedCounts.all() as [string, number][]),
      seqs: async (deviceId) => this.s.rejectedSeqs.all(deviceId) as number[],
    },
  );

  async devices(): Promise<DeviceSummary[]> {
    return (await this.fleet()).stored;
  }

  async fleet(): Promise<Fleet> {
    const rows = this.s.devices.all() as DeviceRow[];
    return this.gapReport.fleet(
      rows.map((r) => ({
        deviceId: r.device_id,
        lastFix: rowToFix(r),
        lastSeenMs: r.last_seen,
        maxSeq: r.max_seq,
        fixCount: r.fix_count,
        droppedThrough: r.d_dropped,
      })),
      this.s.lastRejected.all() as LastRejectedRow[],
    );
  }

  async gapTotals(): Promise<{ missing: number; lost: number; rejected: number }> {
    return this.gapReport.totals((this.s.gapDevices.all() as GapDeviceRow[]).map(gapDeviceCounters));
  }

  async knowsDevice(deviceId: string): Promise<boolean> {
    return this.s.knowsDevice.get(deviceId, deviceId) === 1;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}
