// Ingest figures: how fast fixes get into the database.
//   node --import tsx bench/ingest.ts [--db-only]      (prints JSON figures, ~1-2 minutes)
// benchIngest() returns the same figures for bench/run.ts.
//
// 1. DB write path alone: batched writeFixes (INGEST_FLUSH_ROWS rows, plus a flush-size sweep)
//    against one transaction (one INSERT) per fix, for SQLite and PostgreSQL (unnest, COPY, auto).
// 2. End to end (bench/ingest-e2e.ts): fixes pre-produced to the embedded broker, then the
//    fix-store group consumes them into the database, batched against flushRows=1.
// Fixes are a fleet of 200 devices interleaved by time, as the topic carries them.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ingestSpec } from '../ingest/config.js';
import { type InsertMethod, PostgresStore } from '../ingest/db/postgres.js';
import { SqliteStore } from '../ingest/db/sqlite.js';
import type { Store } from '../ingest/db/store.js';
import type { Fix } from '../shared/fix.js';
import { benchEndToEnd } from './ingest-e2e.js';
import { printFigures } from './print-figures.js';
import { settleDisk } from './settle-disk.js';

export const PG_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A realistic fleet stream: `devices` devices, each one fix per second, interleaved by time. */
export function fleetFixes(total: number, devices: number, seqFrom = 1): Fix[] {
  const t0 = Date.UTC(2026, 2, 1, 6);
  const out: Fix[] = [];
  for (let i = 0; out.length < total; i++) {
    for (let d = 0; d < devices && out.length < total; d++) {
      out.push({
        deviceId: `rider-${String(d).padStart(4, '0')}`,
        seq: seqFrom + i,
        time: t0 + i * 1000,
        lat: 52.52 + d * 0.001 + i * 1e-5,
        lon: 13.405 + i * 1e-5,
        alt: 34.5,
        speed: 8.3,
        course: 91.2,
        hdop: 0.9,
        sats: 10,
        mode: 3,
        quality: 1,
      });
    }
  }
  return out;
}

/** Writes fixes in batches; returns fixes/s. `expectNew` checks the count of new rows. */
async function timeBatched(
  store: Store,
  fixes: Fix[],
  batch: number,
  expectNew = fixes.length,
): Promise<number> {
  settleDisk();
  const start = process.hrtime.bigint();
  let n = 0;
  for (let i = 0; i < fixes.length; i += batch) n += await store.writeFixes(fixes.slice(i, i + batch));
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (n !== expectNew) throw new Error(`wrote ${n} new rows, expected ${expectNew}`);
  return Math.round(fixes.length / s);
}

async function timeOneByOne(store: Store, fixes: Fix[]): Promise<number> {
  return timeBatched(store, fixes, 1);
}

interface Scratch {
  store: Store;
  done(): Promise<void>;
}

function sqliteScratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const store = new SqliteStore(join(dir, 'b.db'));
  return {
    store,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let n = 0;
function pgScratch(insertMethod: InsertMethod = 'unnest'): Scratch & { schema: string } {
  const schema = `bench_${process.pid}_${n++}`;
  const store = new PostgresStore({ connectionString: PG_URL, schema, insertMethod });
  return {
    store,
    schema,
    done: async () => {
      await store.dropSchema();
      await store.close();
    },
  };
}

export interface DbFigures {
  [k: string]: number;
}

export async function benchDbPath(opts: { fixes?: number; batch?: number; devices?: number } = {}) {
  const total = opts.fixes ?? 200_000;
  // The writer's default flush size (INGEST_FLUSH_ROWS): what a backlog catch-up writes.
  const batch = opts.batch ?? ingestSpec.INGEST_FLUSH_ROWS.default!;
  const devices = opts.devices ?? 200;
  const singles = Math.min(total, 3000);
  const fixes = fleetFixes(total, devices);
  const one = fleetFixes(singles, devices, 1_000_000);
  const figures: DbFigures = {};

  const sq = sqliteScratch();
  await sq.store.migrate();
  figures['sqlite_batched_fixes_per_s'] = await timeBatched(sq.store, fixes, batch);
  figures['sqlite_one_per_fix_fixes_per_s'] = await timeOneByOne(sq.store, one);
  // Redelivery: the same batches again, all conflicts.
  figures['sqlite_redelivery_fixes_per_s'] = await timeBatched(sq.store, fixes, batch, 0);
  await sq.done();
  // Flush size matters most for SQLite: a commit writes every page it touched, and each device's
  // rows sit on their own leaf pages, so a commit costs about the same for 1000 rows as for 20000.
  for (const size of [1000, 5000]) {
    const s = sqliteScratch();
    await s.store.migrate();
    figures[`sqlite_batch${size}_fixes_per_s`] = await timeBatched(s.store, fixes.slice(0, 100_000), size);
    await s.done();
  }

  for (const method of ['unnest', 'copy', 'auto'] as const) {
    const pgs = pgScratch(method);
    await pgs.store.migrate();
    figures[`pg_${method}_batched_fixes_per_s`] = await timeBatched(pgs.store, fixes, batch);
    await pgs.done();
    if (method === 'auto') continue;
    // Batch size decides between the two: steady traffic gives small flushes, a backlog big ones.
    for (const size of [500, 5000]) {
      const s = pgScratch(method);
      await s.store.migrate();
      figures[`pg_${method}_batch${size}_fixes_per_s`] = await timeBatched(
        s.store,
        fixes.slice(0, 100_000),
        size,
      );
      await s.done();
    }
  }
  // The trips transaction (stores the fixes too, then folds them into the day rows).
  for (const [name, scratch] of [
    ['sqlite', sqliteScratch],
    ['pg', () => pgScratch()],
  ] as const) {
    const sc = scratch();
    await sc.store.migrate();
    settleDisk();
    const start = process.hrtime.bigint();
    for (let i = 0; i < fixes.length; i += batch) await sc.store.applyTrips(fixes.slice(i, i + batch));
    figures[`${name}_trips_fixes_per_s`] = Math.round(
      fixes.length / (Number(process.hrtime.bigint() - start) / 1e9),
    );
    await sc.done();
  }

  const pgOne = pgScratch();
  await pgOne.store.migrate();
  figures['pg_one_per_fix_fixes_per_s'] = await timeOneByOne(pgOne.store, one);
  await pgOne.done();

  figures['sqlite_batched_over_one_per_fix'] = round1(
    figures['sqlite_batched_fixes_per_s']! / figures['sqlite_one_per_fix_fixes_per_s']!,
  );
  figures['pg_unnest_over_one_per_fix'] = round1(
    figures['pg_unnest_batched_fixes_per_s']! / figures['pg_one_per_fix_fixes_per_s']!,
  );
  figures['pg_unnest_over_copy'] = round1(
    figures['pg_unnest_batched_fixes_per_s']! / figures['pg_copy_batched_fixes_per_s']!,
  );
  figures['fixes'] = total;
  figures['batch'] = batch;
  return figures;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export async function benchIngest(opts: { fixes?: number; e2e?: boolean } = {}) {
  // Other work on the machine skews every figure; say how busy it was.
  const loadBefore = round1(loadavg()[0]!);
  // End to end first: the write-path runs leave PostgreSQL with gigabytes of dirty pages to
  // write back (and schemas to vacuum) for a while after, which the SQLite run would compete with.
  const e2e = opts.e2e === false ? {} : await benchEndToEnd({ fixes: opts.fixes });
  const db = await benchDbPath({ fixes: opts.fixes });
  return {
    ...db,
    ...e2e,
    load_avg_1m_before: loadBefore,
    load_avg_1m_after: round1(loadavg()[0]!),
    cpus: cpus().length,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const e2e = !process.argv.includes('--db-only');
  printFigures(() => benchIngest({ e2e }));
}
