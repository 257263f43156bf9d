import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Outbox, OutboxRejectError, readAgentState } from '../agent/outbox/outbox.js';
import { openOutboxDb } from '../agent/outbox/schema.js';
import { decodeFix } from '../shared/fixcodec.js';
import { position } from './helpers/agent-fixes.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.db');
}

t.test('seqs start at 1, are contiguous per device and survive reopening', async (t) => {
  const path = tmp(t);
  let ob = new Outbox(path);
  for (let i = 0; i < 5; i++) t.equal(ob.append('bike-1', position(i)).seq, i + 1);
  t.equal(ob.append('bike-2', position(0)).seq, 1, 'each device has its own sequence');
  ob.close();
  ob = new Outbox(path);
  t.equal(ob.append('bike-1', position(5)).seq, 6, 'the sequence continues after a restart');
  const rows = ob.oldestUnsent(100);
  t.same(
    rows.filter((r) => r.deviceId === 'bike-1').map((r) => r.seq),
    [1, 2, 3, 4, 5, 6],
  );
  const fix = decodeFix(rows[0]!.body);
  t.match(fix, { deviceId: 'bike-1', seq: 1, lat: 52.52, sats: 9 });
  t.equal(fix.droppedThrough, undefined);
  ob.close();
});

t.test('uses WAL with synchronous=FULL and passes integrity_check', async (t) => {
  const path = tmp(t);
  const ob = new Outbox(path);
  ob.append('bike-1', position(0));
  t.equal(ob.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(ob.db.pragma('synchronous', { simple: true }), 2, 'FULL');
  // better-sqlite3's own default is 16 MB, kept for good after a drain touched every page.
  t.equal(ob.db.pragma('cache_size', { simple: true }), -2048, 'page cache at most 2 MiB');
  t.equal(ob.db.pragma('integrity_check', { simple: true }), 'ok');
  ob.close();
});

t.test('one fix with a date far in the future does not wipe the backlog by age', async (t) => {
  const ob = new Outbox(tmp(t), { maxAgeMs: 3600_000 });
  for (let i = 0; i < 20; i++) ob.append('bike-1', position(i));
  ob.append('bike-1', position(30 * 86_400)); // a receiver's garbage date, 30 days ahead
  ob.append('bike-1', position(20));
  ob.append('bike-1', position(21));
  t.equal(ob.oldestUnsent(100).length, 23, 'nothing dropped');
  t.match(ob.stats()[0], { droppedCount: 0 });
  // When the time really moves on (fix after fix), the old backlog does go.
  for (let i = 0; i < 5; i++) ob.append('bike-1', position(7200 + i));
  t.equal(ob.oldestUnsent(100)[0]!.seq, 21, 'dropped once most recent fixes agree');
  ob.close();
});

t.test('three fixes in a row dated in 2038 do not wipe the backlog by age either', async (t) => {
  // The Pi's clock says 2026-11-25 (NTP); the receiver sent three epochs with a garbage date.
  const ob = new Outbox(tmp(t), { maxAgeMs: 4 * 3600_000, now: () => position(400).time });
  for (let i = 0; i < 300; i++) ob.append('bike-1', position(i));
  for (let i = 0; i < 3; i++)
    ob.append('bike-1', { ...position(300), time: position(12 * 365 * 86_400 + i).time });
  for (let i = 0; i < 3; i++) ob.append('bike-1', position(300 + i));
  t.equal(ob.oldestUnsent(1000).length, 306, 'nothing dropped: the median is capped by the set clock');
  t.match(ob.stats()[0], { droppedCount: 0 });
  ob.close();
});

t.test('a commit that fails (full card) keeps sent rows sent: they are not produced again', async (t) => {
  // A real full card: the kernel refuses writes past the file-size limit (EFBIG).
  const dir = mkdtempSync(join(tmpdir(), 'outbox-full-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = join(import.meta.dirname, 'helpers/outbox-full-child.ts');
  const out = execFileSync(
    'bash',
    ['-c', `ulimit -f 512; exec "${process.execPath}" --import tsx "${child}" "${join(dir, 'o.db')}"`],
    {
      encoding: 'utf8',
      cwd: join(import.meta.dirname, '..'),
    },
  );
  const r = JSON.parse(out) as { errors: string[]; sent: number; offeredAgain: number };
  t.ok(
    r.errors.length >= 2 && r.errors.every((e) => /disk I\/O error|full/.test(e)),
    `the card is full: ${r.errors[0]}`,
  );
  t.equal(r.sent, 100);
  // The delete of acknowledged rows could not be committed; the old code had already forgotten
  // them, offered all 100 again, and the sender produced the same backlog on every retry.
  t.equal(r.offeredAgain, 0, 'the acknowledged rows are not offered again');
});

t.test('an invalid position is rejected with the reason and the good ones are kept', async (t) => {
  const ob = new Outbox(tmp(t));
  const bad = { ...position(1), lat: 123 };
  const r = ob.appendMany([
    { deviceId: 'bike-1', position: position(0) },
    { deviceId: 'bike-1', position: bad },
    { deviceId: 'bike-1', position: position(2) },
    { deviceId: '', position: position(3) },
  ]);
  t.same(
    r.stored.map((f) => f.seq),
    [1, 2],
    'the bad position takes no seq',
  );
  t.equal(r.rejected.length, 2);
  t.match(r.rejected[0]!.reason, /lat 123 is outside -90\.\.90/);
  t.match(r.rejected[1]!.reason, /deviceId is empty/);
  t.throws(() => ob.append('bike-1', { ...position(3), time: Number.NaN }), OutboxRejectError);
  t.equal(ob.append('bike-1', position(3)).seq, 3);
  ob.close();
});

t.test(
  'positions the outbox could not take are recorded as dropped seqs before the ones it stores',
  async (t) => {
    const ob = new Outbox(tmp(t));
    const drops: unknown[] = [];
    ob.on('drop', (d) => drops.push(d));
    ob.append('bike-1', position(0)); // seq 1, still unsent
    // The card was full: 4 positions were let go, these 2 were held and are stored now.
    const r = ob.appendMany(
      [
        { deviceId: 'bike-1', position: position(5) },
        { deviceId: 'bike-1', position: position(6) },
      ],
      new Map([['bike-1', 4]]),
    );
    t.same(
      r.stored.map((f) => f.seq),
      [6, 7],
      'seqs 2..5 are taken by the lost positions, in time order before the stored ones',
    );
    t.equal(r.dropped, 4);
    t.same(drops, [{ deviceId: 'bike-1', count: 4, droppedThrough: 5, why: 'unstored' }]);
    const s = ob.stats()[0]!;
    t.match(s, { nextSeq: 8, droppedThrough: 5, droppedCount: 4, pendingRows: 3 });
    const rows = ob.oldestUnsent(100);
    t.same(
      rows.map((x) => [x.seq, x.droppedThrough]),
      [
        [1, 5],
        [6, 5],
        [7, 5],
      ],
      'seq 1 still goes out; every fix carries droppedThrough 5, so the cloud shows 2..5 as lost',
    );
    // Nothing lost: no seqs taken.
    t.same(
      ob.appendMany([{ deviceId: 'bike-1', position: position(7) }], new Map([['bike-1', 0]])).stored[0]!.seq,
      8,
    );
    ob.close();
  },
);

t.test('full outbox drops the oldest unsent, counts it and stamps droppedThrough', async (t) => {
  const ob = new Outbox(tmp(t), { maxRows: 5 });
  const drops: unknown[] = [];
  ob.on('drop', (d) => drops.push(d));
  for (let i = 0; i < 8; i++) ob.append('bike-1', position(i));
  const rows = ob.oldestUnsent(100);
  t.same(
    rows.map((r) => r.seq),
    [4, 5, 6, 7, 8],
    'the newest are kept',
  );
  t.ok(rows.every((r) => r.droppedThrough === 3));
  t.same(drops, [
    { deviceId: 'bike-1', count: 1, droppedThrough: 1, why: 'full' },
    { deviceId: 'bike-1', count: 1, droppedThrough: 2, why: 'full' },
    { deviceId: 'bike-1', count: 1, droppedThrough: 3, why: 'full' },
  ]);
  const s = ob.stats()[0]!;
  t.match(s, { pendingRows: 5, droppedCount: 3, droppedThrough: 3, nextSeq: 9 });
  t.equal(
    s.pendingBytes,
    rows.reduce((n, r) => n + r.body.length, 0),
  );
  ob.close();
});

t.test('sent rows are not dropped and do not count as dropped', async (t) => {
  const ob = new Outbox(tmp(t), { maxRows: 3 });
  for (let i = 0; i < 3; i++) ob.append('bike-1', position(i));
  ob.markSent(ob.oldestUnsent(2)); // seqs 1, 2 acknowledged (delete deferred)
  ob.append('bike-1', position(3));
  ob.append('bike-1', position(4));
  t.same(
    ob.oldestUnsent(10).map((r) => r.seq),
    [3, 4, 5],
  );
  t.match(ob.stats()[0], { droppedCount: 0, droppedThrough: 0, pendingRows: 3 });
  ob.close();
});

t.test('fixes older than the age bound (GNSS time) are dropped', async (t) => {
  const ob = new Outbox(tmp(t), { maxAgeMs: 10_000 });
  for (let i = 0; i < 20; i++) ob.append('bike-1', position(i));
  const seqs = ob.oldestUnsent(100).map((r) => r.seq);
  // "Now" is the median of the newest five (seq 18, time +17 s): kept what is at most 10 s older.
  t.same(seqs, [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 'kept: at most 10 s older');
  t.match(ob.stats()[0], { droppedCount: 7, droppedThrough: 7 });
  // A fix whose own time is old (receiver glitch) is still never dropped as it is stored.
  const back = ob.append('bike-1', { ...position(-100) });
  t.ok(ob.oldestUnsent(100).some((r) => r.seq === back.seq));
  ob.close();
});

t.test('markSent defers the delete to the next commit and hides the rows at once', async (t) => {
  const path = tmp(t);
  const ob = new Outbox(path);
  for (let i = 0; i < 3; i++) ob.append('bike-1', position(i));
  t.same(
    ob.newestUnsent().map((r) => r.seq),
    [3],
  );
  ob.markSent(ob.newestUnsent());
  t.same(ob.newestUnsent(), [], 'the newest is sent');
  t.same(
    ob.oldestUnsent(10).map((r) => r.seq),
    [1, 2],
  );
  t.equal(ob.pendingCount(), 2);
  const reader = openOutboxDb(path, { readonly: true });
  t.equal(
    (reader.prepare('SELECT count(*) AS n FROM fix').get() as { n: number }).n,
    3,
    'not deleted on disk yet',
  );
  ob.append('bike-1', position(3));
  t.equal(
    (reader.prepare('SELECT count(*) AS n FROM fix').get() as { n: number }).n,
    3,
    'deleted with the append',
  );
  t.same(
    ob.newestUnsent().map((r) => r.seq),
    [4],
  );
  ob.markSent(ob.oldestUnsent(10));
  ob.flush();
  t.equal((reader.prepare('SELECT count(*) AS n FROM fix').get() as { n: number }).n, 0);
  t.match(ob.stats()[0], { pendingRows: 0, pendingBytes: 0, oldestPendingTime: null });
  reader.close();
  ob.close();
});

t.test('a quiet outbox commits deferred deletes on its own', async (t) => {
  const path = tmp(t);
  const ob = new Outbox(path);
  ob.append('bike-1', position(0));
  ob.markSent(ob.newestUnsent());
  const reader = openOutboxDb(path, { readonly: true });
  const count = () => (reader.prepare('SELECT count(*) AS n FROM fix').get() as { n: number }).n;
  for (let i = 0; i < 100 && count() > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(count(), 0);
  reader.close();
  ob.close();
});

t.test('a failing background commit is reported, not thrown', async (t) => {
  const ob = new Outbox(tmp(t));
  ob.append('bike-1', position(0));
  ob.markSent(ob.newestUnsent());
  const errors: Error[] = [];
  ob.on('flushError', (e) => errors.push(e));
  ob.db.close(); // the card went away
  for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.match(errors[0]?.message, /not open/);
  ob.close();
});

t.test('agent state is stored for the status command', async (t) => {
  const path = tmp(t);
  const ob = new Outbox(path, { now: () => 1234 });
  ob.setState('kafka', { connected: true });
  ob.flush();
  const reader = openOutboxDb(path, { readonly: true });
  t.same(readAgentState(reader), { kafka: { value: { connected: true }, updatedAt: 1234 } });
  reader.close();
  ob.close();
});

t.test('a file from a newer agent is refused, not damaged', async (t) => {
  const path = tmp(t);
  new Outbox(path).close();
  const db = openOutboxDb(path);
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => new Outbox(path), /schema version 99/);
});
