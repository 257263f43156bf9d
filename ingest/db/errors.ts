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

/**
 * The database cannot be reached right now, but may be in a moment: nothing listening, the network,
 * the server starting, shutting down, out of connection slots or not accepting connections to this
 * database (maintenance, failover). Worth waiting for at start-up; unlike a wrong password, a
 * database or schema that does not exist, or a SQLite file that cannot be opened, which no wait fixes.
 */
export function isDatabaseAway(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (NET_AWAY.has(code)) return true;
  // SQLSTATE 08 connection exception, 57P01-57P03 shutdown / starting up, 53300 too many connections,
  // 55000 when it is "not currently accepting connections" (ALLOW_CONNECTIONS false).
  if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code) || code === '53300') return true;
  const message = typeof err?.message === 'string' ? err.message : '';
  if (code === '55000') return /not currently accepting connections/.test(message);
  // pg's own, without a code: the socket closed or the connect timed out.
  return code === '' && /^Connection terminated|^timeout expired/.test(message);
}

const NET_AWAY = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'EAI_AGAIN',
]);
