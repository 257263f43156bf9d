// Picks the backend: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file.
import { abortableSleep } from '../../shared/abortable-sleep.js';
import { StartError } from '../../shared/config.js';
import type { Logger } from '../../shared/log.js';
import { whySqliteNotOpened } from '../../shared/sqlite-open-error.js';
import { isDatabaseAway } from './errors.js';
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

/** Which database, for messages: never the URL itself, which may hold a password. */
function describeBackend(opts: StoreOptions): string {
  return opts.databaseUrl
    ? `PostgreSQL database (DATABASE_URL${opts.schema ? `, schema ${opts.schema}` : ''})`
    : `SQLite database ${opts.sqlitePath} (INGEST_SQLITE_PATH)`;
}

/**
 * A service waits for a database that is merely away at its start (the server still booting, a
 * failover, nothing listening yet), as it waits for Kafka, instead of exiting: `log` says so on
 * every attempt, retried after `retryMs.first` ms, doubling up to `retryMs.max`. What no wait
 * fixes (a wrong password, a missing database, a SQLite path that cannot be opened) rejects at
 * once. Without it (a one-shot command such as `ingest migrate`), the first failure rejects.
 */
export interface WaitForDatabase {
  log: Logger;
  retryMs?: { first: number; max: number };
}

/** Opens and migrates the store, ready to use. */
export async function openStore(opts: StoreOptions, wait?: WaitForDatabase): Promise<Store> {
  const refuse = (e: unknown) =>
    new StartError(`cannot open the ${describeBackend(opts)}: ${(e as Error).message}`, { cause: e });
  let store: Store;
  try {
    store = opts.databaseUrl
      ? new PostgresStore({ connectionString: opts.databaseUrl, schema: opts.schema })
      : new SqliteStore(opts.sqlitePath, { writeLock: opts.sqliteWriteLock });
  } catch (e) {
    // SQLite opens the file here: a directory that does not exist, a file that is not a database.
    if (opts.databaseUrl) throw refuse(e);
    throw new StartError(
      `cannot open the ${describeBackend(opts)}: ${whySqliteNotOpened(opts.sqlitePath, e)}`,
      {
        cause: e,
      },
    );
  }
  const retry = wait?.retryMs ?? { first: 500, max: 5_000 };
  let delay = retry.first;
  for (let attempt = 1; ; attempt++) {
    try {
      await store.migrate();
      if (attempt > 1)
        wait?.log.info({ backend: store.kind, attempt }, 'database reachable; schema is up to date');
      return store;
    } catch (e) {
      if (!wait || !isDatabaseAway(e)) {
        await store.close().catch(() => undefined);
        throw refuse(e);
      }
      wait.log.warn(
        { backend: store.kind, attempt, reason: (e as Error).message, retryInMs: delay },
        'database not reachable; waiting for it',
      );
    }
    await abortableSleep(delay, undefined);
    delay = Math.min(delay * 2, retry.max);
  }
}
