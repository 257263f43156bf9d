// The SQLite backend with its writes on a thread of their own (sqlite-writer.ts): migrate,
// writeFixes and applyTrips run there, on a SqliteStore of the thread's; the reads (the HTTP
// API's track, devices, trips, gaps) run on a second SqliteStore here, which WAL lets read
// committed data while the writer writes. Durability is the writer's (sqlite.ts).
//
// Why: better-sqlite3 runs a statement to its end on the thread that calls it. When the store
// groups share a process with the live group (`ingest run`, the default), each fix-store or
// trips flush would stop the live pushes for the whole transaction (a 100,000-fix write: 0.6-1.2 s
// on the store itself, 67-103 ms here, test/ingest-sqlite-thread.test.ts). It does not make the
// three groups fit one 2-core process at 10,000 riders (bench/live.ts `all`). The price is CPU:
// each batch is packed into columns and unpacked on the other side (fix-columns.ts), so a process
// that runs only store groups is better off with SqliteStore itself (ingest/app.ts decides).
import type { Fix } from '../../shared/fix.js';
import { packFixes } from './fix-columns.js';
import { SqliteStore } from './sqlite.js';
import { SqliteWriter } from './sqlite-writer.js';
import { type DeviceSummary, noTripWork, type Store, type TripApplyResult, type TripDay } from './store.js';

export class ThreadedSqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly writer: SqliteWriter;
  private reader: SqliteStore | undefined;

  constructor(readonly path: string) {
    this.writer = new SqliteWriter(path);
  }

  async migrate(): Promise<void> {
    await this.writer.migrate();
    // Opened once the writer created the file and its schema; its own migrate() finds every
    // version applied and only prepares its statements.
    if (!this.reader) {
      const reader = new SqliteStore(this.path);
      await reader.migrate();
      this.reader = reader;
    }
  }

  private get r(): SqliteStore {
    if (!this.reader) throw new Error('ThreadedSqliteStore: call migrate() before using the store');
    return this.reader;
  }

  async writeFixes(fixes: readonly Fix[]): Promise<number> {
    if (fixes.length === 0) return 0;
    return this.writer.writeFixes(packFixes(fixes));
  }

  async applyTrips(fixes: readonly Fix[]): Promise<TripApplyResult> {
    if (fixes.length === 0) return noTripWork();
    return this.writer.applyTrips(packFixes(fixes));
  }

  track(deviceId: string, fromMs: number, toMs: number, limit: number): Promise<Fix[]> {
    return this.r.track(deviceId, fromMs, toMs, limit);
  }

  trips(deviceId: string, fromDay?: string, toDay?: string): Promise<TripDay[]> {
    return this.r.trips(deviceId, fromDay, toDay);
  }

  devices(): Promise<DeviceSummary[]> {
    return this.r.devices();
  }

  gapTotals(): Promise<{ missing: number; lost: number }> {
    return this.r.gapTotals();
  }

  /** Both answer: the reader, and the writer thread (alive, not wedged). */
  async ping(): Promise<void> {
    await this.writer.ping();
    await this.r.ping();
  }

  async close(): Promise<void> {
    await this.writer.close();
    await this.reader?.close();
  }
}
