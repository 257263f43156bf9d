// The trips sink reports its rebuilds as metrics (ingest_trip_days_rebuilt_total,
// ingest_trip_rebuilds_resumed_total, ingest_trip_rebuild_reads_total): what an operator watches
// during a reconnect storm. Real SQLite store; the counters must equal what applyTrips reported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import type { Store, TripApplyResult } from '../ingest/db/store.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { tripsSink } from '../ingest/sinks/trips.js';
import { createLogger } from '../shared/log.js';
import { makeFix } from './helpers/ingest-backends.js';
import { capturedLog } from './helpers/ingest-http.js';

t.test('late fixes: days rebuilt, resumed rebuilds and fixes read back are counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-trips-metrics-'));
  const inner = new SqliteStore(join(dir, 'trips.db'));
  await inner.migrate();
  t.teardown(async () => {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Keep what the store reported, to compare the counters with.
  const results: TripApplyResult[] = [];
  const store: Store = Object.assign(Object.create(inner) as Store, {
    applyTrips: async (fixes: Parameters<Store['applyTrips']>[0]) => {
      const r = await inner.applyTrips(fixes);
      results.push(r);
      return r;
    },
  });
  const metrics = createIngestMetrics();
  const sink = tripsSink(store, metrics, createLogger('test', 'silent'));
  const seqs = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => makeFix('d', from + i));
  // In order with a hole (11..20 missing: a dead zone), then the hole's fixes arrive late, in two flushes.
  await sink.handleBatch([...seqs(1, 10), ...seqs(21, 40)]);
  await sink.handleBatch(seqs(11, 15));
  await sink.handleBatch(seqs(16, 20));
  const value = async (c: { get(): Promise<{ values: { value: number }[] }> }) =>
    (await c.get()).values[0]?.value ?? 0;
  const sum = (k: 'recomputedDays' | 'resumedRebuilds' | 'rebuildReads') =>
    results.reduce((a, r) => a + r[k], 0);
  t.equal(await value(metrics.tripDaysRebuilt), 2, 'each late flush rebuilt the day');
  t.equal(await value(metrics.tripDaysRebuilt), sum('recomputedDays'));
  t.equal(await value(metrics.tripRebuildsResumed), sum('resumedRebuilds'));
  t.ok(sum('resumedRebuilds') >= 1, 'the second late flush continued from a checkpoint');
  t.ok((await value(metrics.tripRebuildReads)) > 0, 'fixes were read back');
  t.equal(await value(metrics.tripRebuildReads), sum('rebuildReads'));
});

t.test(
  'rebuilds are logged per flush at debug, naming devices, and summed at info at most once a period',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-trips-log-'));
    const store = new SqliteStore(join(dir, 'trips.db'));
    await store.migrate();
    t.teardown(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const { logger, lines } = capturedLog('debug');
    const sink = tripsSink(store, createIngestMetrics(), logger, 'trips', 500);
    const seqs = (id: string, from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => makeFix(id, from + i));
    await sink.handleBatch([
      ...seqs('a', 1, 10),
      ...seqs('a', 21, 40),
      ...seqs('b', 1, 10),
      ...seqs('b', 21, 30),
    ]);
    // Three flushes of late fixes in quick succession, as during a replay: before, three info lines
    // that named no device.
    await sink.handleBatch(seqs('a', 11, 13));
    await sink.handleBatch([...seqs('a', 14, 16), ...seqs('b', 11, 15)]);
    await sink.handleBatch(seqs('b', 16, 20));
    type Line = { level: number; msg: string; devices?: string[]; flushes?: number; deviceCount?: number };
    const parsed = () =>
      lines.map((l) => JSON.parse(l) as Line).filter((l) => /trip days rebuilt/.test(l.msg));
    const day = new Date(makeFix('a', 1).time).toISOString().slice(0, 10);
    const debug = parsed().filter((l) => l.level === 20);
    t.same(
      debug.map((l) => l.devices),
      [[`a from ${day} (1 d)`], [`a from ${day} (1 d)`, `b from ${day} (1 d)`], [`b from ${day} (1 d)`]],
      'each flush at debug, with its devices and days',
    );
    t.same(
      parsed()
        .filter((l) => l.level === 30)
        .map((l) => [l.flushes, l.deviceCount, l.devices]),
      [[1, 1, [`a from ${day}`]]],
      'at info, the first at once and nothing more yet',
    );
    await new Promise((r) => setTimeout(r, 700));
    t.same(
      parsed()
        .filter((l) => l.level === 30)
        .map((l) => [l.flushes, l.deviceCount, l.devices]),
      [
        [1, 1, [`a from ${day}`]],
        [2, 2, [`a from ${day}`, `b from ${day}`]],
      ],
      'the rest summed up in one line once the period is over',
    );

    // Stopping inside a period: the pending summary is written, not lost with the process.
    await new Promise((r) => setTimeout(r, 600));
    await sink.handleBatch(seqs('a', 17, 18));
    t.equal(parsed().filter((l) => l.level === 30).length, 3, 'the first after the period at once');
    await sink.handleBatch(seqs('a', 19, 20));
    sink.stopped?.();
    t.same(
      parsed()
        .filter((l) => l.level === 30)
        .slice(3)
        .map((l) => [l.flushes, l.deviceCount, l.devices]),
      [[1, 1, [`a from ${day}`]]],
      'what was pending, at stop',
    );
  },
);
