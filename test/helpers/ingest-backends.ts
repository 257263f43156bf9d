// The two store backends the ingest tests run against: a temp SQLite file and a unique schema in
// the real PostgreSQL on 127.0.0.1 (database `test`), dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from '../../ingest/db/postgres.js';
import { SqliteStore } from '../../ingest/db/sqlite.js';
import type { Store } from '../../ingest/db/store.js';

export const PG_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** PG_URL pointed at another database of the same server (and, given, another port). */
export function pgUrlFor(database: string, port?: number): string {
  const u = new URL(PG_URL);
  u.pathname = `/${database}`;
  if (port !== undefined) u.port = String(port);
  return u.toString();
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh, migrated, empty store. `reopen` gives a second handle on the same data. */
  open(): Promise<{ store: Store; reopen: () => Promise<Store>; cleanup: () => Promise<void> }>;
}

let counter = 0;
export const uniqueSchema = (tag: string) =>
  `t_${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`.toLowerCase();

/** The embedded backend: a SQLite file in a temp dir. */
function sqliteBackend(make: (path: string) => Store): Backend {
  return {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'ingest-store-'));
      const path = join(dir, 'fixes.db');
      const store = make(path);
      await store.migrate();
      return {
        store,
        reopen: async () => {
          const s = make(path);
          await s.migrate();
          return s;
        },
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

export const backends: Backend[] = [
  sqliteBackend((path) => new SqliteStore(path)),
  {
    name: 'postgres',
    async open() {
      const schema = uniqueSchema('store');
      const store = new PostgresStore({ connectionString: PG_URL, schema });
      await store.migrate();
      return {
        store,
        reopen: async () => {
          const s = new PostgresStore({ connectionString: PG_URL, schema });
          await s.migrate();
          return s;
        },
        cleanup: async () => {
          const s = new PostgresStore({ connectionString: PG_URL, schema });
          await s.dropSchema();
          await s.close();
        },
      };
    },
  },
];

import type { Fix } from '../../shared/fix.js';
import { encodeFix } from '../../shared/fixcodec.js';

/** 2026-03-01T08:00:00Z: fixes of tests start here, one per second by seq unless told otherwise. */
export const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);

export function makeFix(deviceId: string, seq: number, more: Partial<Fix> = {}): Fix {
  return { deviceId, seq, time: T0 + seq * 1000, lat: 52.5 + seq * 1e-5, lon: 13.4, mode: 3, ...more };
}

/** `total` fixes as Kafka messages keyed by device, the devices taking turns (seqs 1, 1, ..., 2, 2, ...). */
export function roundRobinMessages(total: number, devices: readonly string[]) {
  return Array.from({ length: total }, (_, i) => {
    const f = makeFix(devices[i % devices.length]!, Math.floor(i / devices.length) + 1);
    return { key: f.deviceId, value: encodeFix(f) };
  });
}
