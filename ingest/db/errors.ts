// Which database errors are about the data (this row can never be stored) rather than the
// database (down, locked, full: retry later). The consumer isolates the rows behind a data error
// and dead-letters them, so one unstorable fix cannot stall its partition; any other error means
// "not done" and the batch is retried.

/** PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation). */
const PG_DATA = /^2[23][0-9A-Z]{3}$/;
/** SQLite extended result codes that name the row, not the database. */
const SQLITE_DATA = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;

export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (PG_DATA.test(code) || SQLITE_DATA.test(code));
}
