// A SQLite file that is some other program's database (an agent's outbox, say) is not one the
// ingest may migrate: it would create its tables beside the other program's and run on the mix.
// A file of ours has schema_migrations (every migrate() writes it first); a new one has no table.
import type Database from 'better-sqlite3';
import { someTables, tablesIn } from '../../shared/sqlite-tables.js';

/**
 * Throws when the file holds tables but no schema_migrations: the message names a few of them.
 * Called inside migrate()'s transaction, before anything is created.
 */
export function refuseForeignDatabase(db: Database.Database): void {
  const tables = tablesIn(db);
  if (tables.length === 0 || tables.includes('schema_migrations')) return;
  throw new Error(
    `it is not an ingest database: it holds other tables (${someTables(tables)}) and no schema_migrations`,
  );
}
