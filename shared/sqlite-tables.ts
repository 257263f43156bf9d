// The tables a SQLite file holds, for the programs that refuse to open another program's file as
// their own (the agent's outbox, the ingest's database): each tells its own tables from others.
import type Database from 'better-sqlite3';

/** The file's tables, not SQLite's own (sqlite_sequence, sqlite_stat1, ...), by name. */
export function tablesIn(db: Database.Database): string[] {
  return (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((r) => r.name);
}

/** A few table names for a message: the first five, then "...". */
export function someTables(names: readonly string[]): string {
  return (names.length > 5 ? [...names.slice(0, 5), '...'] : names).join(', ');
}
