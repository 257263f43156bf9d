// The outbox: every position is stored here, durably, before anything tries to send it.
//
// - The per-device seq is assigned in the same transaction as the insert, from the device row,
//   so it is contiguous, never reused and survives restarts (see schema.ts for why FULL sync).
// - Bounded by rows and by age per device: when full, the oldest unsent fixes are dropped, counted,
//   and the highest dropped seq is remembered (droppedThrough) so every later fix tells the cloud
//   which gaps are lost for good. The newest fix is never dropped.
// - Acknowledged rows are deleted lazily: a sent row is remembered in memory and deleted by the
//   next append's transaction (or after a second of quiet), so a live device pays one commit per
//   fix, not two. If the process dies in between, the row is sent again after the restart;
//   the cloud keeps each (device, seq) once, so that costs bytes, never correctness.
import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import type { Fix, Position } from '../../shared/fix.js';
import { encodeFix } from '../../shared/fixcodec.js';
import { validateFix } from '../../shared/fixvalidate.js';
import { monotonicMs } from '../../shared/monotonic.js';
import { openOutboxDb } from './schema.js';

/** 7 days of 1 Hz fixes. */
/** How far the GNSS timeline may run ahead of the Pi's clock before the clock caps it (age bound). */
const CLOCK_SLACK_MS = 3600_000;
export const DEFAULT_MAX_ROWS = 604_800;
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** Sent rows kept in memory before the deletes are committed on their own. */
const MAX_DEFERRED = 64;
const QUIET_FLUSH_MS = 1000;

export interface OutboxOptions {
  /** Per device. */
  maxRows?: number;
  /** Per device, on the GNSS timeline (median time of the newest 5 fixes), not the Pi's clock. */
  maxAgeMs?: number;
  /** Wall clock, injectable for tests of status ages. */
  now?: () => number;
  /** SQLite page size of a new file (for the bench's comparison). */
  pageSize?: number;
}

/** A stored fix waiting to be sent: the encoded body plus what the sender needs around it. */
export interface PendingFix {
  dev: number;
  deviceId: string;
  seq: number;
  time: number;
  body: Buffer;
  /** The device's droppedThrough at the time of reading (0 = nothing dropped). */
  droppedThrough: number;
}

export interface Rejected {
  deviceId: string;
  position: Position;
  reason: string;
}

export interface AppendResult {
  stored: Fix[];
  rejected: Rejected[];
  /** Fixes dropped unsent by the bounds during this append. */
  dropped: number;
}

export interface DeviceStats {
  deviceId: string;
  nextSeq: number;
  pendingRows: number;
  pendingBytes: number;
  oldestPendingTime: number | null;
  droppedThrough: number;
  droppedCount: number;
  lastFixTime: number | null;
  lastFixAt: number | null;
}

export class OutboxRejectError extends Error {
  constructor(readonly reason: string) {
    super(`outbox: fix rejected: ${reason}`);
    this.name = 'OutboxRejectError';
  }
}

interface DropEvent {
  deviceId: string;
  count: number;
  droppedThrough: number;
  /** full, age: unsent rows past a bound; unstored: positions the outbox could not take (appendMany's `lost`). */
  why: 'full' | 'age' | 'unstored';
}

export interface OutboxEvents {
  append: [stored: number];
  drop: [DropEvent];
  /** The background commit of deletes/state failed (it is retried). */
  flushError: [Error];
}

export class Outbox extends EventEmitter<OutboxEvents> {
  readonly db: Database.Database;
  readonly maxRows: number;
  readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly devIds = new Map<string, number>();
  private readonly deferred = new Map<string, { dev: number; seq: number }>();
  private readonly dirtyState = new Map<string, string>();
  /** What the transaction in progress deletes and writes, let go of once it commits. */
  private readonly inTxn: string[] = [];
  private readonly stateInTxn: [string, string][] = [];
  /**
   * monotonicMs() of the last commit. Not the wall clock: after a step back, "now - last commit"
   * stayed negative for the whole step and the quiet flush never ran.
   */
  private lastCommitMono = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly q;

  constructor(path: string, opts: OutboxOptions = {}) {
    super();
    this.maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    if (!Number.isInteger(this.maxRows) || this.maxRows < 1) throw new Error('outbox: maxRows must be >= 1');
    this.now = opts.now ?? Date.now;
    this.db = openOutboxDb(path, { pageSize: opts.pageSize });
    const db = this.db;
    this.q = {
      devId: db.prepare<[string], { id: number }>('SELECT id FROM device WHERE device = ?'),
      devInsert: db.prepare('INSERT OR IGNORE INTO device (device, next_seq) VALUES (?, 1)'),
      nextSeq: db.prepare<[number], { next_seq: number; pending: number }>(
        'SELECT next_seq, pending FROM device WHERE id = ?',
      ),
      insertFix: db.prepare('INSERT INTO fix (dev, seq, time, body) VALUES (?, ?, ?, ?)'),
      bumpDevice: db.prepare(
        `UPDATE device SET next_seq = next_seq + 1, pending = pending + 1, pending_bytes = pending_bytes + ?,
           last_fix_time = ?, last_fix_at = ? WHERE id = ?`,
      ),
      deleteFix: db.prepare<[number, number], { n: number }>(
        'DELETE FROM fix WHERE dev = ? AND seq = ? RETURNING length(body) AS n',
      ),
      unpend: db.prepare(
        'UPDATE device SET pending = pending - ?, pending_bytes = pending_bytes - ? WHERE id = ?',
      ),
      nthOldest: db.prepare<[number, number], { seq: number }>(
        'SELECT seq FROM fix WHERE dev = ? ORDER BY seq LIMIT 1 OFFSET ?',
      ),
      newestTimes: db.prepare<[number], { time: number }>(
        'SELECT time FROM fix WHERE dev = ? ORDER BY seq DESC LIMIT 5',
      ),
      oldestByAge: db.prepare<[number], { seq: number; time: number }>(
        'SELECT seq, time FROM fix WHERE dev = ? ORDER BY seq',
      ),
      countThrough: db.prepare<[number, number], { n: number; b: number }>(
        'SELECT count(*) AS n, coalesce(sum(length(body)), 0) AS b FROM fix WHERE dev = ? AND seq <= ?',
      ),
      deleteThrough: db.prepare('DELETE FROM fix WHERE dev = ? AND seq <= ?'),
      // Seqs for positions that never reached the outbox: taken and recorded as dropped at once.
      skipSeqs: db.prepare<[number, number, number, number], { through: number }>(
        `UPDATE device SET next_seq = next_seq + ?, dropped_through = max(dropped_through, next_seq + ? - 1),
           dropped_count = dropped_count + ? WHERE id = ? RETURNING dropped_through AS through`,
      ),
      recordDrop: db.prepare(
        `UPDATE device SET pending = pending - ?, pending_bytes = pending_bytes - ?,
           dropped_through = max(dropped_through, ?), dropped_count = dropped_count + ? WHERE id = ?`,
      ),
      newest: db.prepare<[], RawPending>(
        `SELECT f.dev, d.device, f.seq, f.time, f.body, d.dropped_through
           FROM device d JOIN fix f ON f.dev = d.id AND f.seq = d.next_seq - 1`,
      ),
      oldest: db.prepare<[number], RawPending>(
        `SELECT f.dev, d.device, f.seq, f.time, f.body, d.dropped_through
           FROM fix f JOIN device d ON d.id = f.dev ORDER BY f.dev, f.seq LIMIT ?`,
      ),
      pendingSum: db.prepare<[], { n: number }>('SELECT coalesce(sum(pending), 0) AS n FROM device'),
      putState: db.prepare(
        `INSERT INTO agent_state (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ),
    };
    this.timer = setInterval(() => {
      const idle = this.deferred.size === 0 && this.dirtyState.size === 0;
      if (idle || monotonicMs() - this.lastCommitMono < QUIET_FLUSH_MS) return;
      try {
        this.flush();
      } catch (e) {
        // A timer must not crash the agent (disk full, card gone): report it, retry next tick.
        this.emit('flushError', e instanceof Error ? e : new Error(String(e)));
      }
    }, QUIET_FLUSH_MS / 2);
    this.timer.unref();
  }

  /** Stores one position as the device's next fix. Throws OutboxRejectError for an invalid one. */
  append(deviceId: string, position: Position): Fix {
    const r = this.appendMany([{ deviceId, position }]);
    if (r.rejected[0]) throw new OutboxRejectError(r.rejected[0].reason);
    return r.stored[0]!;
  }

  /**
   * Stores many positions in one transaction (one fsync): a simulated fleet's tick, or a burst.
   * Invalid positions are rejected one by one with the reason; the valid ones are stored anyway.
   * `lost`: per device, how many positions older than these could not be stored (the card was
   * full longer than the caller could hold them): their seqs are taken first and recorded as
   * dropped, so the cloud shows them as lost instead of never knowing they existed.
   */
  appendMany(
    items: readonly { deviceId: string; position: Position }[],
    lost?: ReadonlyMap<string, number>,
  ): AppendResult {
    const result: AppendResult = { stored: [], rejected: [], dropped: 0 };
    const drops: DropEvent[] = [];
    const wallNow = this.now();
    this.db
      .transaction(() => {
        this.flushDeferredInTxn();
        for (const [deviceId, count] of lost ?? []) {
          if (!(count > 0)) continue;
          const { through } = this.q.skipSeqs.get(count, count, count, this.devId(deviceId))!;
          result.dropped += count;
          drops.push({ deviceId, count, droppedThrough: through, why: 'unstored' });
        }
        for (const { deviceId, position } of items) {
          const problem = checkPosition(deviceId, position);
          if (problem) {
            result.rejected.push({ deviceId, position, reason: problem });
            continue;
          }
          const dev = this.devId(deviceId);
          const row = this.q.nextSeq.get(dev)!;
          const fix: Fix = { ...stripUndefined(position), deviceId, seq: row.next_seq };
          delete fix.droppedThrough;
          let body: Buffer;
          try {
            body = encodeFix(fix);
          } catch (e) {
            result.rejected.push({ deviceId, position, reason: (e as Error).message });
            continue;
          }
          this.q.insertFix.run(dev, fix.seq, fix.time, body);
          this.q.bumpDevice.run(body.length, fix.time, wallNow, dev);
          result.stored.push(fix);
          const d = this.enforceBounds(dev, deviceId, row.pending + 1, fix);
          for (const e of d) {
            result.dropped += e.count;
            drops.push(e);
          }
        }
        this.flushStateInTxn(wallNow);
      })
      .immediate();
    this.committed();
    this.lastCommitMono = monotonicMs();
    for (const d of drops) this.emit('drop', d);
    if (result.stored.length > 0) this.emit('append', result.stored.length);
    return result;
  }

  /** The newest stored fix of each device, when it has not been sent yet: it goes out first. */
  newestUnsent(): PendingFix[] {
    return this.q.newest
      .all()
      .map(toPending)
      .filter((p) => !this.deferred.has(key(p.dev, p.seq)));
  }

  /** Up to `limit` unsent fixes, oldest first (device by device). */
  oldestUnsent(limit: number): PendingFix[] {
    const rows = this.q.oldest.all(limit + this.deferred.size).map(toPending);
    return rows.filter((p) => !this.deferred.has(key(p.dev, p.seq))).slice(0, limit);
  }

  /**
   * Kafka acknowledged these rows: they leave the outbox. Small sets wait for the next append's
   * transaction (one commit per fix on a live device); large ones (draining) are committed now.
   */
  markSent(rows: readonly PendingFix[]): void {
    for (const r of rows) this.deferred.set(key(r.dev, r.seq), { dev: r.dev, seq: r.seq });
    if (this.deferred.size > MAX_DEFERRED) this.flush();
  }

  /** Records a piece of agent state for `agent status` (committed with the next transaction). */
  setState(name: string, value: unknown): void {
    this.dirtyState.set(name, JSON.stringify(value));
  }

  /** Commits pending deletes and state now. */
  flush(): void {
    if (this.deferred.size === 0 && this.dirtyState.size === 0) return;
    const wallNow = this.now();
    this.db
      .transaction(() => {
        this.flushDeferredInTxn();
        this.flushStateInTxn(wallNow);
      })
      .immediate();
    this.committed();
    this.lastCommitMono = monotonicMs();
  }

  /** Rows waiting (including sent rows whose delete is not committed yet). */
  pendingCount(): number {
    return (this.q.pendingSum.get()?.n ?? 0) - this.deferred.size;
  }

  stats(): DeviceStats[] {
    return readDeviceStats(this.db);
  }

  close(): void {
    clearInterval(this.timer);
    if (this.db.open) {
      try {
        this.flush();
        // Fold the WAL into the main file so a copied outbox is one self-contained file.
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A full card: the delete of rows Kafka acknowledged cannot be committed. Nothing is lost
        // (they are sent again after a restart and the cloud keeps each (device, seq) once);
        // the stop goes on and is clean, not a stack trace in the journal.
      }
      this.db.close();
    }
  }

  private devId(deviceId: string): number {
    let id = this.devIds.get(deviceId);
    if (id === undefined) {
      this.q.devInsert.run(deviceId);
      id = this.q.devId.get(deviceId)!.id;
      this.devIds.set(deviceId, id);
    }
    return id;
  }

  /** Drops the oldest rows past the row bound or the age bound; never the fix just stored. */
  private enforceBounds(dev: number, deviceId: string, pending: number, newest: Fix): DropEvent[] {
    const events: DropEvent[] = [];
    if (pending > this.maxRows) {
      const through = this.q.nthOldest.get(dev, pending - this.maxRows - 1)?.seq;
      if (through !== undefined && through < newest.seq)
        events.push(this.dropThrough(dev, deviceId, through, 'full'));
    }
    // "Now" for the age bound is the median time of the newest stored fixes, not the newest fix
    // alone: one fix with a garbage date far in the future (a receiver at cold start) must not
    // make the whole backlog look a week old and wipe it.
    const recent = this.q.newestTimes.all(dev).map((r) => r.time);
    const median = recent.sort((a, b) => a - b)[Math.floor(recent.length / 2)] ?? newest.time;
    // Nor three: three garbage dates in a row (a receiver's default date moved on to 2038) made
    // the median itself the future and dropped a 300-fix backlog. The Pi's clock caps it when it
    // is set; unset (1970, no RTC before NTP) it only makes this drop nothing by age.
    const now = Math.min(median, this.now() + CLOCK_SLACK_MS);
    const cutoff = now - this.maxAgeMs;
    let through: number | undefined;
    for (const r of this.q.oldestByAge.iterate(dev)) {
      if (r.time >= cutoff || r.seq >= newest.seq) break;
      through = r.seq;
    }
    if (through !== undefined) events.push(this.dropThrough(dev, deviceId, through, 'age'));
    return events;
  }

  private dropThrough(dev: number, deviceId: string, through: number, why: DropEvent['why']): DropEvent {
    const c = this.q.countThrough.get(dev, through)!;
    this.q.deleteThrough.run(dev, through);
    this.q.recordDrop.run(c.n, c.b, through, c.n, dev);
    return { deviceId, count: c.n, droppedThrough: through, why };
  }

  private flushDeferredInTxn(): void {
    this.inTxn.length = 0; // a transaction that failed before left its list
    if (this.deferred.size === 0) return;
    const perDev = new Map<number, { n: number; b: number }>();
    for (const { dev, seq } of this.deferred.values()) {
      const gone = this.q.deleteFix.get(dev, seq);
      if (!gone) continue; // already dropped by a bound: nothing left to count
      const t = perDev.get(dev) ?? { n: 0, b: 0 };
      t.n++;
      t.b += gone.n;
      perDev.set(dev, t);
    }
    for (const [dev, t] of perDev) this.q.unpend.run(t.n, t.b, dev);
    for (const k of this.deferred.keys()) this.inTxn.push(k);
  }

  private flushStateInTxn(wallNow: number): void {
    this.stateInTxn.length = 0;
    for (const [k, v] of this.dirtyState) {
      this.q.putState.run(k, v, wallNow);
      this.stateInTxn.push([k, v]);
    }
  }

  /**
   * The transaction committed: the sent rows it deleted and the state it wrote are done. Only
   * now: a commit that fails (SQLITE_FULL on a full card) left them as they were, and clearing
   * them first made those rows look unsent, so the sender produced the same backlog again on
   * every retry, for as long as the card stayed full.
   */
  private committed(): void {
    for (const k of this.inTxn) this.deferred.delete(k);
    for (const [k, v] of this.stateInTxn) if (this.dirtyState.get(k) === v) this.dirtyState.delete(k);
    this.inTxn.length = 0;
    this.stateInTxn.length = 0;
  }
}

interface RawPending {
  dev: number;
  device: string;
  seq: number;
  time: number;
  body: Buffer;
  dropped_through: number;
}

function toPending(r: RawPending): PendingFix {
  return {
    dev: r.dev,
    deviceId: r.device,
    seq: r.seq,
    time: r.time,
    body: r.body,
    droppedThrough: r.dropped_through,
  };
}

const key = (dev: number, seq: number) => `${dev}:${seq}`;

function stripUndefined(p: Position): Position {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  return out as unknown as Position;
}

/** Why this position cannot become a fix (validated with a placeholder seq), or null. */
function checkPosition(deviceId: string, position: Position): string | null {
  if (position === null || typeof position !== 'object') return 'position is not an object';
  return validateFix({ ...stripUndefined(position), deviceId, seq: 1, droppedThrough: undefined });
}

/** Per-device counters, readable from any connection (the status command opens the file read-only). */
export function readDeviceStats(db: Database.Database): DeviceStats[] {
  const rows = db
    .prepare<
      [],
      {
        device: string;
        next_seq: number;
        pending: number;
        pending_bytes: number;
        dropped_through: number;
        dropped_count: number;
        last_fix_time: number | null;
        last_fix_at: number | null;
        oldest_time: number | null;
      }
    >(
      `SELECT d.*, (SELECT time FROM fix WHERE dev = d.id ORDER BY seq LIMIT 1) AS oldest_time
         FROM device d ORDER BY d.device`,
    )
    .all();
  return rows.map((r) => ({
    deviceId: r.device,
    nextSeq: r.next_seq,
    pendingRows: r.pending,
    pendingBytes: r.pending_bytes,
    oldestPendingTime: r.oldest_time,
    droppedThrough: r.dropped_through,
    droppedCount: r.dropped_count,
    lastFixTime: r.last_fix_time,
    lastFixAt: r.last_fix_at,
  }));
}

/** The agent_state table as an object of parsed JSON values with their update times. */
export function readAgentState(db: Database.Database): Record<string, { value: unknown; updatedAt: number }> {
  const out: Record<string, { value: unknown; updatedAt: number }> = {};
  for (const r of db
    .prepare<[], { key: string; value: string; updated_at: number }>(
      'SELECT key, value, updated_at FROM agent_state',
    )
    .all()) {
    let value: unknown;
    try {
      value = JSON.parse(r.value);
    } catch {
      value = r.value;
    }
    out[r.key] = { value, updatedAt: r.updated_at };
  }
  return out;
}
