// Picks the backend: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file.
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import { ThreadedSqliteStore } from './sqlite-threaded.js';
import type { Store } from './store.js';

export interface StoreOptions {
  /** postgres://… ; when set, PostgreSQL is used. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema (default public). */
  schema?: string | undefined;
  /** SQLite file, used when databaseUrl is unset. */
  sqlitePath: string;
  /**
   * SQLite writes on a thread of their own (sqlite-threaded.ts): for a process whose event loop
   * also serves live pushes, at some CPU cost per fix. Default false.
   */
  sqliteWriterThread?: boolean | undefined;
}

/** Opens and migrates the store, ready to use. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const store: Store = opts.databaseUrl
    ? new PostgresStore({ connectionString: opts.databaseUrl, schema: opts.schema })
    : opts.sqliteWriterThread
      ? new ThreadedSqliteStore(opts.sqlitePath)
      : new SqliteStore(opts.sqlitePath);
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}
