// Shared set-up for the ingest-web tests: a real SQLite store in a temp dir, a fresh metrics
// registry, a live view and the server built on them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../ingest/db/open.js';
import type { Store } from '../../ingest/db/store.js';
import { buildServer, type ServerDeps } from '../../ingest/http/server.js';
import { LiveView } from '../../ingest/live/live-view.js';
import { createIngestMetrics, type IngestMetrics } from '../../ingest/metrics.js';
import type { Fix } from '../../shared/fix.js';
import { type Backend, backends } from './ingest-backends.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface WebFixture {
  store: Store;
  live: LiveView;
  metrics: IngestMetrics;
  deps: ServerDeps;
  cleanup(): Promise<void>;
}

/** A fixture on the SQLite store (default) or, with backend 'postgres', a fresh PostgreSQL schema. */
export async function webFixture(
  over: Partial<ServerDeps> = {},
  backend: Backend['name'] = 'sqlite',
): Promise<WebFixture> {
  if (backend === 'postgres') {
    const pg = await backends.find((b) => b.name === 'postgres')!.open();
    return withStore(pg.store, over, async () => {
      await pg.store.close().catch(() => undefined);
      await pg.cleanup();
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'ingest-web-'));
  const store = await openStore({ sqlitePath: join(dir, 'ingest.db') });
  return withStore(store, over, async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

function withStore(store: Store, over: Partial<ServerDeps>, cleanup: () => Promise<void>): WebFixture {
  const live = new LiveView();
  const metrics = createIngestMetrics();
  const deps: ServerDeps = {
    token: TOKEN,
    store,
    live,
    registry: metrics.registry,
    health: { database: () => store.ping() },
    logger: false,
    ...over,
  };
  return {
    store,
    live,
    metrics,
    deps,
    cleanup,
  };
}

export { buildServer };

let t0 = Date.UTC(2026, 10, 25, 8, 0, 0);
/** A fix with defaults; time advances a second per call unless given. */
export function fix(deviceId: string, seq: number, over: Partial<Fix> = {}): Fix {
  t0 += 1000;
  return { deviceId, seq, time: t0, lat: 52.52, lon: 13.405, mode: 3, speed: 5, course: 90, ...over };
}
