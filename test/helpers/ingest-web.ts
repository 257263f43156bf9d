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

export const TOKEN = 'test-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface WebFixture {
  store: Store;
  live: LiveView;
  metrics: IngestMetrics;
  deps: ServerDeps;
  cleanup(): Promise<void>;
}

export async function webFixture(over: Partial<ServerDeps> = {}): Promise<WebFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-web-'));
  const store = await openStore({ sqlitePath: join(dir, 'ingest.db') });
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
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { buildServer };

let t0 = Date.UTC(2026, 10, 25, 8, 0, 0);
/** A fix with defaults; time advances a second per call unless given. */
export function fix(deviceId: string, seq: number, over: Partial<Fix> = {}): Fix {
  t0 += 1000;
  return { deviceId, seq, time: t0, lat: 52.52, lon: 13.405, mode: 3, speed: 5, course: 90, ...over };
}
