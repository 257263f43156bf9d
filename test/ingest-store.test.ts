// One suite, run against every store backend: SQLite (a temp file; the store itself, and with its
// writes on a thread as `ingest run` opens it) and the real PostgreSQL.
import t from 'tap';
import type { Fix } from '../shared/fix.js';
import { backends, makeFix, T0 } from './helpers/ingest-backends.js';

for (const backend of backends) {
  t.test(backend.name, async (t) => {
    const { store, reopen, cleanup } = await backend.open();
    t.teardown(async () => {
      await store.close();
      await cleanup();
    });

    t.test('migrate is idempotent and data survives a reopen', async (t) => {
      await store.migrate();
      t.equal(await store.writeFixes([makeFix('persist', 1)]), 1);
      const other = await reopen();
      t.same(
        (await other.track('persist', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
        [1],
      );
      await other.close();
    });

    t.test('writeFixes is idempotent and counts only new rows', async (t) => {
      const batch = [1, 2, 3].map((s) => makeFix('idem', s));
      t.equal(await store.writeFixes(batch), 3, 'all new');
      t.equal(await store.writeFixes(batch), 0, 'redelivery writes nothing');
      t.equal(await store.writeFixes([makeFix('idem', 3), makeFix('idem', 4)]), 1, 'overlap: only seq 4');
      t.equal(await store.writeFixes([makeFix('idem', 5), makeFix('idem', 5)]), 1, 'duplicate in batch');
      const twice = [makeFix('idem-first', 1, { lat: 10 }), makeFix('idem-first', 1, { lat: 20 })];
      t.equal(await store.writeFixes(twice), 1);
      t.same(
        (await store.track('idem-first', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.lat),
        [10],
        'the first copy in a batch is the one stored',
      );
      t.equal(await store.writeFixes([]), 0);
      const seqs = (await store.track('idem', 0, Number.MAX_SAFE_INTEGER, 100)).map((f) => f.seq);
      t.same(seqs, [1, 2, 3, 4, 5]);
      const dev = (await store.devices()).find((d) => d.deviceId === 'idem');
      t.equal(dev?.fixCount, 5, 'device count not inflated by redelivery');
    });

    t.test('a large flush (COPY on PostgreSQL) is idempotent too', async (t) => {
      const big = Array.from({ length: 6000 }, (_, i) => makeFix(`big-${i % 7}`, Math.floor(i / 7) + 1));
      t.equal(await store.writeFixes(big), 6000);
      t.equal(await store.writeFixes(big), 0, 'redelivered: nothing new');
      const mixed = [
        ...big.slice(0, 5000),
        ...Array.from({ length: 10 }, (_, i) => makeFix('big-new', i + 1)),
      ];
      t.equal(await store.writeFixes(mixed), 10, 'only the new rows count');
      const dev = (await store.devices()).find((d) => d.deviceId === 'big-0');
      t.equal(dev?.fixCount, Math.ceil(6000 / 7));
    });

    t.test('a batch with one bad row is rolled back whole', async (t) => {
      const bad = { ...makeFix('atomic', 2), lat: null as unknown as number };
      await t.rejects(store.writeFixes([makeFix('atomic', 1), bad, makeFix('atomic', 3)]));
      t.same(await store.track('atomic', 0, Number.MAX_SAFE_INTEGER, 10), [], 'nothing stored');
      t.equal(await store.writeFixes([makeFix('atomic', 1)]), 1, 'store still usable');
    });

    t.test('track: time order, half-open range, limit, fields round-trip', async (t) => {
      const full: Fix = {
        deviceId: 'trk',
        seq: 10,
        time: T0 + 5000,
        lat: -33.8688197,
        lon: 151.2092955,
        alt: 12.34,
        speed: 4.56,
        course: 359.99,
        hdop: 0.9,
        sats: 11,
        mode: 3,
        quality: 2,
        droppedThrough: 7,
      };
      // seq order differs from time order on purpose: track orders by GNSS time.
      await store.writeFixes([
        full,
        makeFix('trk', 11, { time: T0 + 1000, mode: 2 }),
        makeFix('trk', 12, { time: T0 + 9000 }),
      ]);
      const all = await store.track('trk', 0, Number.MAX_SAFE_INTEGER, 10);
      t.same(
        all.map((f) => f.seq),
        [11, 10, 12],
      );
      t.same(all[1], full, 'every field comes back as written');
      t.same(all[0], makeFix('trk', 11, { time: T0 + 1000, mode: 2 }), 'absent optionals stay absent');
      t.equal(Object.hasOwn(all[0]!, 'alt'), false);
      t.same(
        (await store.track('trk', T0 + 1000, T0 + 9000, 10)).map((f) => f.seq),
        [11, 10],
        'from inclusive, to exclusive',
      );
      t.same(
        (await store.track('trk', 0, Number.MAX_SAFE_INTEGER, 2)).map((f) => f.seq),
        [11, 10],
      );
      t.same(await store.track('nobody', 0, Number.MAX_SAFE_INTEGER, 10), []);
    });

    t.test(
      'track over many minutes equals a filter of everything written, clock jumps included',
      async (t) => {
        // 400 fixes over ~25 minutes; every 7th seq's time jumps back up to 10 minutes (a receiver
        // clock jump), so seqs do not follow time; written in random batches (some twice, as a
        // redelivery would), so a minute's seq range grows over several transactions.
        let rnd = 7;
        const rand = (n: number) => {
          rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
          return rnd % n;
        };
        const fixes = Array.from({ length: 400 }, (_, i) => {
          const seq = i + 1;
          const jump = seq % 7 === 0 ? rand(600_000) : 0;
          return makeFix('minutes', seq, { time: T0 + seq * 3700 + rand(1000) - jump });
        });
        const order = [...fixes].sort(() => rand(3) - 1);
        for (let i = 0; i < order.length; ) {
          const n = 1 + rand(60);
          await store.writeFixes(order.slice(i, i + n));
          if (rand(4) === 0) await store.writeFixes(order.slice(i, i + n));
          i += n;
        }
        const byTime = [...fixes].sort((a, b) => a.time - b.time || a.seq - b.seq);
        const span = [T0 - 700_000, T0 + 1_600_000];
        for (let k = 0; k < 60; k++) {
          const from = span[0]! + rand(span[1]! - span[0]!);
          const to = k % 10 === 0 ? from : from + rand(900_000);
          const limit = 1 + rand(k % 2 ? 500 : 40);
          const want = byTime.filter((f) => f.time >= from && f.time < to).slice(0, limit);
          const got = await store.track('minutes', from, to, limit);
          t.same(
            got.map((f) => f.seq),
            want.map((f) => f.seq),
            `track [${from - T0}, ${to - T0}) limit ${limit}`,
          );
        }
        t.same(
          (await store.track('minutes', 0, Number.MAX_SAFE_INTEGER, 1000)).map((f) => f.seq),
          byTime.map((f) => f.seq),
          'the whole track, in time order',
        );
      },
    );

    t.test('devices: last fix by GNSS time, last seen, gaps split lost/missing, backlog fills', async (t) => {
      const before = Date.now();
      await store.writeFixes([1, 2, 6, 9].map((s) => makeFix('gappy', s)));
      await store.writeFixes([makeFix('gappy', 10, { droppedThrough: 3, time: T0 + 9500 })]);
      let d = (await store.devices()).find((x) => x.deviceId === 'gappy')!;
      t.ok(d, 'device listed');
      t.equal(d.lastFix.seq, 10, 'newest GNSS time wins');
      t.ok(d.lastSeenMs >= before && d.lastSeenMs <= Date.now(), 'last seen is ingest wall time');
      t.equal(d.maxSeq, 10);
      t.equal(d.droppedThrough, 3);
      t.same(d.gaps, [
        { from: 3, to: 3, lost: true, rejected: false },
        { from: 4, to: 5, lost: false, rejected: false },
        { from: 7, to: 8, lost: false, rejected: false },
      ]);
      t.equal(d.missing, 4);
      t.equal(d.lost, 1);
      // Backlog arrives: gap 7..8 closes, 4..5 shrinks; older fixes do not replace the last fix.
      await store.writeFixes([makeFix('gappy', 7), makeFix('gappy', 8), makeFix('gappy', 5)]);
      d = (await store.devices()).find((x) => x.deviceId === 'gappy')!;
      t.same(d.gaps, [
        { from: 3, to: 3, lost: true, rejected: false },
        { from: 4, to: 4, lost: false, rejected: false },
      ]);
      t.equal(d.lastFix.seq, 10);
      const totals = await store.gapTotals();
      t.ok(totals.missing >= 1 && totals.lost >= 1, 'gap totals count them');
    });

    t.test('gaps stay exact across looks: new gaps above, backlog filling old ones', async (t) => {
      const look = async () => (await store.devices()).find((x) => x.deviceId === 'looks')!;
      await store.writeFixes([1, 2, 4].map((s) => makeFix('looks', s)));
      t.same((await look()).gaps, [{ from: 3, to: 3, lost: false, rejected: false }]);
      await store.writeFixes([7, 8, 11].map((s) => makeFix('looks', s)));
      t.same((await look()).gaps, [
        { from: 3, to: 3, lost: false, rejected: false },
        { from: 5, to: 6, lost: false, rejected: false },
        { from: 9, to: 10, lost: false, rejected: false },
      ]);
      await store.writeFixes([3, 6, 9, 12].map((s) => makeFix('looks', s)));
      t.same((await look()).gaps, [
        { from: 5, to: 5, lost: false, rejected: false },
        { from: 10, to: 10, lost: false, rejected: false },
      ]);
      await store.writeFixes([5, 10, 13].map((s) => makeFix('looks', s)));
      const d = await look();
      t.same([d.gaps, d.missing, d.lost], [[], 0, 0], 'all filled');
    });

    t.test('rejected seqs: recorded once, shown as rejected instead of pending or lost', async (t) => {
      const look = async () => (await store.devices()).find((x) => x.deviceId === 'refused')!;
      await store.writeFixes([1, 2, 4, 7].map((s) => makeFix('refused', s)));
      t.same((await look()).gaps, [
        { from: 3, to: 3, lost: false, rejected: false },
        { from: 5, to: 6, lost: false, rejected: false },
      ]);
      const reason = 'future time 2079-01-01T00:00:00.000Z: 460000.0 h ahead';
      const batch = [
        { deviceId: 'refused', seq: 3, reason },
        { deviceId: 'refused', seq: 6, reason: 'lat 95 is outside -90..90' },
        { deviceId: 'refused', seq: 6, reason: 'the same seq twice in one call' },
        // Above the stored max: received all the same, so 8 is missing and 9 rejected.
        { deviceId: 'refused', seq: 9, reason },
      ];
      t.equal(await store.writeRejected(batch), 3, 'three new (device, seq) pairs');
      t.equal(await store.writeRejected(batch), 0, 'redelivery records nothing');
      t.equal(await store.writeRejected([]), 0);
      let d = await look();
      t.same(d.gaps, [
        { from: 3, to: 3, lost: false, rejected: true },
        { from: 5, to: 5, lost: false, rejected: false },
        { from: 6, to: 6, lost: false, rejected: true },
        { from: 8, to: 8, lost: false, rejected: false },
        { from: 9, to: 9, lost: false, rejected: true },
      ]);
      t.same([d.missing, d.lost, d.rejected, d.maxSeq], [2, 0, 3, 7], 'seq 9, above the stored max, counts');
      t.same(
        d.lastRejected && [d.lastRejected.seq, d.lastRejected.reason],
        [9, reason],
        'the highest refusal',
      );
      t.ok(
        d.lastRejected!.atMs > Date.now() - 60_000 && d.lastRejected!.atMs <= Date.now(),
        'when it was refused',
      );
      t.notOk(
        (await store.devices()).find((x) => x.deviceId === 'idem')?.lastRejected,
        'no refusal, no lastRejected',
      );
      // Later fixes pass seq 9; the device then reports 1..5 dropped: 5 is lost, 3 stays rejected.
      await store.writeFixes([makeFix('refused', 10, { droppedThrough: 5, time: T0 + 10_000 })]);
      d = await look();
      t.same(d.gaps, [
        { from: 3, to: 3, lost: false, rejected: true },
        { from: 5, to: 5, lost: true, rejected: false },
        { from: 6, to: 6, lost: false, rejected: true },
        { from: 8, to: 8, lost: false, rejected: false },
        { from: 9, to: 9, lost: false, rejected: true },
      ]);
      t.same([d.missing, d.lost, d.rejected], [1, 1, 3]);
      // A device whose every fix was refused has no last fix: it is listed apart, with its gaps
      // and why, and the gauges count it.
      const before = await store.gapTotals();
      t.notOk(
        (await store.fleet()).refused.some((x) => x.deviceId === 'refused'),
        'a stored device is not',
      );
      await store.writeRejected(
        [1, 2, 3, 5].map((seq) => ({ deviceId: 'all-refused', seq, reason: `refusal of ${seq}` })),
      );
      t.notOk(
        (await store.devices()).some((x) => x.deviceId === 'all-refused'),
        'not among the devices with a last fix',
      );
      const refused = (await store.fleet()).refused.filter((x) => x.deviceId === 'all-refused');
      t.equal(refused.length, 1, 'listed once as refused');
      t.same(
        [
          refused[0]!.lastRejected.seq,
          refused[0]!.lastRejected.reason,
          refused[0]!.rejected,
          refused[0]!.missing,
        ],
        [5, 'refusal of 5', 4, 1],
      );
      t.same(refused[0]!.gaps, [
        { from: 1, to: 3, lost: false, rejected: true },
        { from: 4, to: 4, lost: false, rejected: false },
        { from: 5, to: 5, lost: false, rejected: true },
      ]);
      const after = await store.gapTotals();
      t.same([after.rejected - before.rejected, after.missing - before.missing], [4, 1]);
      // Once one of its fixes is stored, it is an ordinary device (its refusals kept).
      await store.writeFixes([makeFix('all-refused', 6)]);
      t.notOk(
        (await store.fleet()).refused.some((x) => x.deviceId === 'all-refused'),
        'no longer refused-only',
      );
      const now = (await store.devices()).find((x) => x.deviceId === 'all-refused')!;
      t.same([now.rejected, now.missing, now.lastRejected?.seq], [4, 1, 5]);
      // A rejected seq that is stored after all (sent again valid) is no gap of any kind.
      await store.writeFixes([makeFix('refused', 9)]);
      t.same((await look()).rejected, 2);
      // Another handle on the same database (a second ingest process) sees the same answer.
      const other = await reopen();
      const seen = (await other.devices()).find((x) => x.deviceId === 'refused')!;
      t.same([seen.missing, seen.lost, seen.rejected], [1, 1, 2]);
      t.ok((await other.gapTotals()).rejected >= 2, 'the gauge totals count them');
      await other.writeRejected([{ deviceId: 'refused', seq: 8, reason: 'recorded by the other process' }]);
      await other.close();
      d = await look();
      t.same([d.missing, d.lost, d.rejected], [0, 1, 3], 'a record written elsewhere is picked up');
    });

    t.test('a device whose first stored seq is not 1 has a leading gap', async (t) => {
      await store.writeFixes([makeFix('late-start', 4)]);
      const d = (await store.devices()).find((x) => x.deviceId === 'late-start')!;
      t.same(d.gaps, [{ from: 1, to: 3, lost: false, rejected: false }]);
    });

    t.test('ping resolves', async (t) => {
      await t.resolves(store.ping());
    });
  });
}

t.test('postgres COPY insert path: same results, awkward device ids survive', async (t) => {
  const { PostgresStore } = await import('../ingest/db/postgres.js');
  const { PG_URL, uniqueSchema } = await import('./helpers/ingest-backends.js');
  const store = new PostgresStore({
    connectionString: PG_URL,
    schema: uniqueSchema('copy'),
    insertMethod: 'copy',
  });
  t.teardown(async () => {
    await store.dropSchema();
    await store.close();
  });
  await store.migrate();
  const id = 'tab\there\\back\nline,comma"q';
  const batch = [1, 2, 3].map((s) => makeFix(id, s, s === 2 ? { alt: -1.5, droppedThrough: 1 } : {}));
  t.equal(await store.writeFixes(batch), 3);
  t.equal(await store.writeFixes([...batch, makeFix(id, 4)]), 1, 'conflicts skipped');
  const got = await store.track(id, 0, Number.MAX_SAFE_INTEGER, 10);
  t.same(got, [...batch, makeFix(id, 4)]);
  const d = (await store.devices()).find((x) => x.deviceId === id);
  t.equal(d?.fixCount, 4);
});

t.test('sqlite: WAL, synchronous=FULL, checkpoints at the pages chosen', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { SqliteStore, WAL_CHECKPOINT_PAGES } = await import('../ingest/db/sqlite.js');
  const dir = mkdtempSync(join(tmpdir(), 'ingest-pragmas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'f.db'));
  await store.migrate();
  const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
  const pragma = (name: string) => db.pragma(name, { simple: true });
  t.equal(pragma('journal_mode'), 'wal');
  t.equal(pragma('synchronous'), 2, 'FULL: a commit is on disk before the offsets are');
  t.equal(pragma('wal_autocheckpoint'), WAL_CHECKPOINT_PAGES);
  await store.close();
});

t.test('sqlite: a version 1 database is upgraded to the current schema, keeping its rows', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { default: Database } = await import('better-sqlite3');
  const { CREATE_MIGRATIONS_TABLE, migrations } = await import('../ingest/db/migrations.js');
  const { SqliteStore } = await import('../ingest/db/sqlite.js');
  const dir = mkdtempSync(join(tmpdir(), 'ingest-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  const old = new Database(path);
  old.exec(CREATE_MIGRATIONS_TABLE);
  old.exec(migrations('sqlite')[0]!.sql);
  old.prepare("INSERT INTO schema_migrations VALUES (1, 'v1', '2026-01-01')").run();
  old
    .prepare(
      "INSERT INTO trip_state (device_id, last_seq, last_time, last_lat, last_lon, anchor_lat, anchor_lon) VALUES ('old', 7, 1500, 0, 0, 0, 0)",
    )
    .run();
  old.close();
  const store = new SqliteStore(path);
  await store.migrate();
  await store.close();
  const db = new Database(path, { readonly: true });
  t.same(
    db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
    migrations('sqlite').map((m) => ({ version: m.version })),
  );
  t.same(
    db.prepare('SELECT last_seq, applied, anchor_time, anchor_seen, last_speed FROM trip_state').all(),
    [{ last_seq: 7, applied: '[]', anchor_time: 1500, anchor_seen: 1500, last_speed: null }],
    'version 5: the last fix stands in for when the anchor was set and seen',
  );
  db.close();
});

t.test(
  'sqlite: version 4 indexes the fixes stored before it by minute and drops the time index',
  async (t) => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { default: Database } = await import('better-sqlite3');
    const { CREATE_MIGRATIONS_TABLE, migrations } = await import('../ingest/db/migrations.js');
    const { SqliteStore } = await import('../ingest/db/sqlite.js');
    const dir = mkdtempSync(join(tmpdir(), 'ingest-migrate-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'v3.db');
    const old = new Database(path);
    old.exec(CREATE_MIGRATIONS_TABLE);
    for (const m of migrations('sqlite').filter((m) => m.version <= 3)) {
      old.exec(m.sql);
      old.prepare("INSERT INTO schema_migrations VALUES (?, 'old', '2026-01-01')").run(m.version);
    }
    // Written as a version 3 ingest did: fixes rows only. Seq 5 jumped back two minutes.
    const insert = old.prepare(
      'INSERT INTO fixes (device_id, seq, time, lat, lon, mode, received_at) VALUES (?, ?, ?, 0, 0, 3, 0)',
    );
    const times: [string, number, number][] = [
      ['a', 1, T0],
      ['a', 2, T0 + 59_999],
      ['a', 3, T0 + 60_000],
      ['a', 4, T0 + 61_000],
      ['a', 5, T0 - 120_000],
      ['b', 1, T0 + 30_000],
    ];
    for (const r of times) insert.run(...r);
    old.close();
    const store = new SqliteStore(path);
    await store.migrate();
    t.same(
      (await store.track('a', 0, Number.MAX_SAFE_INTEGER, 10)).map((f) => f.seq),
      [5, 1, 2, 3, 4],
    );
    t.same(
      (await store.track('a', T0 + 59_999, T0 + 61_000, 10)).map((f) => f.seq),
      [2, 3],
    );
    t.same(
      (await store.track('b', T0, T0 + 60_000, 10)).map((f) => f.seq),
      [1],
    );
    await store.close();
    const db = new Database(path, { readonly: true });
    t.same(db.prepare('SELECT * FROM fix_minutes ORDER BY device_id, minute').all(), [
      { device_id: 'a', minute: (T0 - 120_000) / 60_000, min_seq: 5, max_seq: 5 },
      { device_id: 'a', minute: T0 / 60_000, min_seq: 1, max_seq: 2 },
      { device_id: 'a', minute: T0 / 60_000 + 1, min_seq: 3, max_seq: 4 },
      { device_id: 'b', minute: T0 / 60_000, min_seq: 1, max_seq: 1 },
    ]);
    t.equal(
      db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'fixes_device_time'").pluck().get(),
      0,
      'the (device_id, time) index is gone',
    );
    db.close();
  },
);
