// SQLite: a flush's fixes into the fixes table, telling which were new (the devices and
// fix_minutes rows count only those).
//
// Rows go in by CHUNK_ROWS to a statement (one multi-row VALUES). better-sqlite3's run() costs
// ~0.3-0.4 us a call besides SQLite's own work (it builds its {changes, lastInsertRowid} result
// through V8's slow object API), a fifth of a row's insert when each row is a call: measured on
// 20,000-row transactions of 200 devices, 1.64-1.77 -> 1.35-1.41 us of CPU a row (50 a chunk,
// savepoint included). A chunk whose `changes` is CHUNK_ROWS inserted every one of its rows.
// One with a conflict (a redelivered or duplicated fix) is rolled back to its savepoint and
// inserted row by row, each run() telling whether its row was new: either way the same rows are
// stored and the same ones reported new as with one INSERT ... ON CONFLICT DO NOTHING per fix,
// in order (a fix twice in one flush: the first copy wins). A data error (a constraint) fails
// the statement as it failed the row's own, and the caller's transaction is rolled back.
// A chunk whose `changes` is 0 was stored whole before: the usual case for the second of the two
// store groups to write a fix (fix-store and trips both insert it), and for a redelivery. Rolling
// that back to go row by row found nothing new, at the cost of the chunk three times over.
import type Database from 'better-sqlite3';
import type { Fix } from '../../shared/fix.js';
import { FIX_COLUMNS } from './rows.js';

export const CHUNK_ROWS = 50;
const COLS = FIX_COLUMNS.length;

const insertSql = (rows: number) =>
  `INSERT INTO fixes (${FIX_COLUMNS.join(', ')})
   VALUES ${Array.from({ length: rows }, () => `(${Array(COLS).fill('?').join(', ')})`).join(', ')}
   ON CONFLICT (device_id, seq) DO NOTHING`;

export class SqliteFixRows {
  private readonly one: Database.Statement;
  private readonly chunk: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly release: Database.Statement;
  /** Parameters of the next statement, reused (one array per store, not per row or chunk). */
  private readonly rowArgs: unknown[] = new Array(COLS);
  private readonly chunkArgs: unknown[] = new Array(COLS * CHUNK_ROWS);

  constructor(db: Database.Database) {
    this.one = db.prepare(insertSql(1));
    this.chunk = db.prepare(insertSql(CHUNK_ROWS));
    this.savepoint = db.prepare('SAVEPOINT fix_rows');
    this.rollback = db.prepare('ROLLBACK TO fix_rows');
    this.release = db.prepare('RELEASE fix_rows');
  }

  /**
   * Inserts `sorted` (sortedFixes' order) inside the caller's transaction, stamped received_at =
   * `now`; returns the fixes that were new, in that order.
   */
  insert(sorted: readonly Fix[], now: number): Fix[] {
    const inserted: Fix[] = [];
    let i = 0;
    for (; i + CHUNK_ROWS <= sorted.length; i += CHUNK_ROWS) {
      for (let r = 0; r < CHUNK_ROWS; r++) rowValues(this.chunkArgs, r * COLS, sorted[i + r]!, now);
      this.savepoint.run();
      const changes = this.chunk.run(this.chunkArgs).changes;
      if (changes === CHUNK_ROWS) {
        this.release.run();
        for (let r = i; r < i + CHUNK_ROWS; r++) inserted.push(sorted[r]!);
        continue;
      }
      if (changes === 0) {
        // Every row was stored before: nothing changed, nothing is new.
        this.release.run();
        continue;
      }
      this.rollback.run();
      this.release.run();
      for (let r = i; r < i + CHUNK_ROWS; r++) this.insertOne(sorted[r]!, now, inserted);
    }
    for (; i < sorted.length; i++) this.insertOne(sorted[i]!, now, inserted);
    return inserted;
  }

  private insertOne(f: Fix, now: number, inserted: Fix[]): void {
    rowValues(this.rowArgs, 0, f, now);
    if (this.one.run(this.rowArgs).changes > 0) inserted.push(f);
  }
}

/** A fix's row in FIX_COLUMNS order, written into args from `at`. */
function rowValues(args: unknown[], at: number, f: Fix, now: number): void {
  args[at] = f.deviceId;
  args[at + 1] = f.seq;
  args[at + 2] = f.time;
  args[at + 3] = f.lat;
  args[at + 4] = f.lon;
  args[at + 5] = f.alt ?? null;
  args[at + 6] = f.speed ?? null;
  args[at + 7] = f.course ?? null;
  args[at + 8] = f.hdop ?? null;
  args[at + 9] = f.sats ?? null;
  args[at + 10] = f.mode;
  args[at + 11] = f.quality ?? null;
  args[at + 12] = f.droppedThrough ?? null;
  args[at + 13] = now;
}
