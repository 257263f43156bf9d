// The outbox file: one SQLite database per agent process (a simulated fleet shares one file,
// keyed by device), opened with the settings that make it survive kill -9 and power cuts.
//
// Why synchronous=FULL (not NORMAL): in WAL mode NORMAL does not fsync at commit, so a power cut
// can roll back the last commits. A fix committed, sent and acknowledged by Kafka could then be
// forgotten and its seq handed out again to a different fix; the cloud, which keeps each
// (device, seq) once, would throw the new fix away as a duplicate. With FULL a commit is on the
// card before the sender can see the row, so a seq is never reused. The cost is one fsync per
// commit (one per second for a real device; a simulated fleet commits all devices together).
//
// Why page_size=1024: every commit appends each page it touched to the WAL. A fix touches about
// three pages (the fix b-tree leaf, the device row, and now and then an interior page), so small
// pages cut the bytes written to the SD card per fix (bench/agent.ts measures it).
//
// Why cache_size=-2048 (2 MiB): better-sqlite3 is built with a 16 MB default page cache, and a
// connection keeps the pages it has cached until it closes. Draining a day of backlog touches
// every page of the file once, so after a tunnel the agent would hold ~16 MB more for good (on a
// Pi with ~50 MB for the whole agent, issue #4). A drain round reads the oldest few thousand rows
// and deletes them, and appends at the other end of the b-tree: a few hundred KB of pages.
import Database from 'better-sqlite3';
import { StartError } from '../../shared/config.js';
import { whySqliteNotOpened } from '../../shared/sqlite-open-error.js';
import { someTables, tablesIn } from '../../shared/sqlite-tables.js';

export const SCHEMA_VERSION = 1;
export const PAGE_SIZE = 1024;
/** Page cache of the writing connection, KiB (see above). */
export const CACHE_KIB = 2048;

const DDL = `
CREATE TABLE IF NOT EXISTS device (
  id              INTEGER PRIMARY KEY,
  device          TEXT NOT NULL UNIQUE,
  next_seq        INTEGER NOT NULL,            -- seq the next fix of this device gets
  pending         INTEGER NOT NULL DEFAULT 0,  -- rows in fix for this device
  pending_bytes   INTEGER NOT NULL DEFAULT 0,  -- sum of their body sizes
  dropped_through INTEGER NOT NULL DEFAULT 0,  -- highest seq ever dropped unsent (0 = none)
  dropped_count   INTEGER NOT NULL DEFAULT 0,  -- fixes dropped unsent, ever
  last_fix_time   INTEGER,                     -- GNSS time of the newest fix (ms)
  last_fix_at     INTEGER                      -- this machine's clock when it was stored (ms)
);
-- WITHOUT ROWID: the (dev, seq) key is the b-tree, so a row costs one b-tree, not two.
CREATE TABLE IF NOT EXISTS fix (
  dev  INTEGER NOT NULL,
  seq  INTEGER NOT NULL,
  time INTEGER NOT NULL,   -- GNSS time, for the age bound
  body BLOB NOT NULL,      -- encodeFix(fix) without droppedThrough (added when sent)
  PRIMARY KEY (dev, seq)
) WITHOUT ROWID;
-- What the running agent reports for 'agent status' (GPS state, Kafka connectivity, ...).
CREATE TABLE IF NOT EXISTS agent_state (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,  -- JSON
  updated_at INTEGER NOT NULL
);
`;

/** The outbox's own tables (DDL above). */
const OUTBOX_TABLES = ['device', 'fix', 'agent_state'];

export interface OpenOptions {
  readonly?: boolean;
  /** Page size of a new file (bench/agent.ts compares); default PAGE_SIZE. */
  pageSize?: number;
}

/**
 * The outbox file cannot be opened: its directory does not exist, it is a directory, it is not
 * a database or not this agent's, ... No wait fixes that, so it is a StartError (one line, no
 * stack trace); the commands say which setting named the file (`reason` without the path).
 */
export class OutboxOpenError extends StartError {
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot open the outbox ${path}: ${reason}`, options);
    this.name = 'OutboxOpenError';
  }

  /** The same refusal from `agent <command>`, naming the setting the path came from. */
  naming(command: string, setting: string): StartError {
    return new StartError(
      `agent ${command}: cannot open the outbox ${this.path} (${setting}): ${this.reason}`,
      {
        cause: this.cause,
      },
    );
  }
}

/** Opens (creating if needed) an outbox file with the durability settings above. */
export function openOutboxDb(path: string, opts: OpenOptions = {}): Database.Database {
  try {
    return opts.readonly ? openReader(path) : openWriter(path, opts);
  } catch (e) {
    if (e instanceof OutboxOpenError) throw e;
    throw new OutboxOpenError(path, whySqliteNotOpened(path, e), { cause: e });
  }
}

function openReader(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    // A reader must wait for the agent's short write transactions, not fail.
    db.pragma('busy_timeout = 5000');
    // Reads the header now: a file that is not a database fails here, not at the first query.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION)
      throw new OutboxOpenError(
        path,
        version === 0
          ? 'it is not an agent outbox (a SQLite database without its tables)'
          : `it has schema version ${version}, this agent knows ${SCHEMA_VERSION}`,
      );
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function openWriter(path: string, opts: OpenOptions): Database.Database {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      // A new file, or one an earlier start left between its tables and user_version. A database
      // with other tables is another program's (the ingest's, say): creating the outbox inside it
      // and running would mix the two. Refused.
      const foreign = tablesIn(db).filter((name) => !OUTBOX_TABLES.includes(name));
      if (foreign.length > 0)
        throw new OutboxOpenError(
          path,
          `it is not an agent outbox: it holds other tables (${someTables(foreign)})`,
        );
      // page_size only takes effect before the first table exists and before WAL is on.
      db.pragma(`page_size = ${opts.pageSize ?? PAGE_SIZE}`);
    } else if (version !== SCHEMA_VERSION) {
      throw new OutboxOpenError(path, `it has schema version ${version}, this agent knows ${SCHEMA_VERSION}`);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`cache_size = -${CACHE_KIB}`);
    db.exec(DDL);
    if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}
