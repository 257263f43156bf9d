// Picks the backend: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file.
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface StoreOptions {
  /** postgres://… ; when set, PostgreSQL is used. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema (default public). */
  schema?: string | undefined;
  /** SQLite file, used when databaseUrl is unset. */
  sqlitePath: string;
  /**
   * ThreadWriteLock.create()'s buffer when more than one thread of the process writes the SQLite
   * file (app.ts makes it for INGEST_FIX_STORE_MEMBERS > 1); every such thread gets the same one.
   */
  sqliteWriteLock?: SharedArrayBuffer | undefined;
}

/** Opens and migrates the store, ready to use. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const store: Store = opts.databaseUrl
    ? new PostgresStore({ connectionString: opts.databaseUrl, schema: opts.schema })
    : new SqliteStore(opts.sqlitePath, { writeLock: opts.sqliteWriteLock });
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}
