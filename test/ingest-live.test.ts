// The live view and its SSE streams over a real listening server: newest by GNSS time and seq
// (a backlog never moves a rider back), current position at once, bbox filtering with leave
// events, bounded coalescing for a client that stops reading, clean-up on disconnect and close.
import t from 'tap';
import { buildServer, startHttpServer } from '../ingest/http/server.js';
import { LiveView } from '../ingest/live/live-view.js';
import type { Fix } from '../shared/fix.js';
import { fix, TOKEN, webFixture } from './helpers/ingest-web.js';
import { openSse, type SseEvent } from './helpers/sse-client.js';

const data = (e: SseEvent) => JSON.parse(e.data) as Fix & { receivedAt: number };
const fixes = (events: SseEvent[]) => events.filter((e) => e.event === 'fix').map(data);

t.test('newest by GNSS time then seq, never by arrival', async (t) => {
  const live = new LiveView(() => 1000);
  const base = Date.UTC(2026, 10, 25, 9);
  await live.handleBatch([fix('r', 10, { time: base + 10_000, lat: 52.6 })]);
  // Backlog from before a reconnect arrives later but is older.
  await live.handleBatch([
    fix('r', 3, { time: base + 3_000, lat: 52.3 }),
    fix('r', 4, { time: base + 4_000, lat: 52.4 }),
  ]);
  t.equal(live.get('r')?.fix.seq, 10);
  t.equal(live.get('r')?.fix.lat, 52.6);
  // Redelivery of the same fix changes nothing.
  await live.handleBatch([fix('r', 10, { time: base + 10_000, lat: 52.6 })]);
  // Same GNSS second, higher seq wins (a receiver that repeats a time stamp).
  await live.handleBatch([fix('r', 11, { time: base + 10_000, lat: 52.61 })]);
  t.equal(live.get('r')?.fix.seq, 11);
  // Within one batch the order of arrival does not matter either.
  await live.handleBatch([fix('q', 7, { time: base + 7_000 }), fix('q', 5, { time: base + 5_000 })]);
  t.equal(live.get('q')?.fix.seq, 7);
  const s = live.stats();
  t.equal(s.devices, 2);
  t.equal(s.accepted, 3);
  t.equal(s.stale, 4);
  t.equal(live.get('r')?.receivedAt, 1000);
});

t.test('SSE: one device and the fleet, current position at once, bbox and leave', async (t) => {
  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const base = Date.UTC(2026, 10, 25, 9);
  await f.live.handleBatch([
    fix('berlin-1', 5, { time: base + 5000, lat: 52.52, lon: 13.4 }),
    fix('paris-1', 9, { time: base + 9000, lat: 48.85, lon: 2.35 }),
  ]);

  const unauth = await openSse(`${srv.url}/api/devices/berlin-1/live`);
  t.equal(unauth.status, 401);
  unauth.close();

  const one = await openSse(`${srv.url}/api/devices/berlin-1/live?token=${TOKEN}`);
  t.equal(one.status, 200);
  t.match(one.headers['content-type'], /^text\/event-stream/);
  t.equal(one.headers['cache-control'], 'no-cache, no-transform');
  await one.waitFor((e) => e.length >= 1, 'the current position');
  t.same(
    fixes(one.events).map((x) => x.seq),
    [5],
  );

  const berlinBox = '13.0,52.3,13.8,52.7';
  const area = await openSse(`${srv.url}/api/live?bbox=${berlinBox}`, { authorization: `Bearer ${TOKEN}` });
  const fleet = await openSse(`${srv.url}/api/live`, { authorization: `Bearer ${TOKEN}` });
  await area.waitFor((e) => e.length >= 1, 'berlin snapshot');
  await fleet.waitFor((e) => e.length >= 2, 'fleet snapshot');
  t.same(
    fixes(area.events).map((x) => x.deviceId),
    ['berlin-1'],
    'only devices inside the bbox',
  );
  t.same(
    fixes(fleet.events)
      .map((x) => x.deviceId)
      .sort(),
    ['berlin-1', 'paris-1'],
  );

  // A backlog fix is not pushed; the newer one is.
  await f.live.handleBatch([fix('berlin-1', 2, { time: base + 2000 })]);
  await f.live.handleBatch([fix('berlin-1', 6, { time: base + 6000, lat: 52.53, lon: 13.41 })]);
  await one.waitFor((e) => e.length >= 2, 'the newer fix');
  t.same(
    fixes(one.events).map((x) => x.seq),
    [5, 6],
  );
  t.ok(data(one.events[1]!).receivedAt > 0, 'events carry when the server received them');

  // berlin-1 drives out of the area: the area stream gets a leave, then nothing more of it.
  await f.live.handleBatch([fix('berlin-1', 7, { time: base + 7000, lat: 53.5, lon: 10.0 })]);
  await area.waitFor((e) => e.some((x) => x.event === 'leave'), 'leave');
  await f.live.handleBatch([fix('berlin-1', 8, { time: base + 8000, lat: 53.6, lon: 10.0 })]);
  await fleet.waitFor((e) => fixes(e).some((x) => x.seq === 8), 'fleet sees seq 8');
  t.same(
    area.events.map((e) => `${e.event}:${data(e).seq}`),
    ['fix:5', 'fix:6', 'leave:7'],
  );
  // A device that was never in the box and stays out sends nothing to the area stream.
  await f.live.handleBatch([fix('paris-1', 10, { time: base + 10_000, lat: 48.86, lon: 2.36 })]);
  await fleet.waitFor((e) => fixes(e).some((x) => x.deviceId === 'paris-1' && x.seq === 10), 'paris 10');
  t.equal(area.events.length, 3);

  // Antimeridian box: 170..-170 contains 179 and -179.
  const fiji = await openSse(`${srv.url}/api/live?bbox=170,-30,-170,-10&token=${TOKEN}`);
  await f.live.handleBatch([
    fix('fiji-1', 1, { lat: -18, lon: 179 }),
    fix('fiji-2', 1, { lat: -18, lon: -179 }),
    fix('nz-1', 1, { lat: -41, lon: 174 }),
  ]);
  await fiji.waitFor((e) => e.length >= 2, 'fiji devices');
  t.same(
    fixes(fiji.events)
      .map((x) => x.deviceId)
      .sort(),
    ['fiji-1', 'fiji-2'],
  );

  const bad = await openSse(`${srv.url}/api/live?bbox=10,60,20,50&token=${TOKEN}`);
  t.equal(bad.status, 400);
  bad.close();

  t.equal(f.live.stats().subscribers, 4);
  for (const c of [one, area, fleet, fiji]) c.close();
  await Promise.all([one.closed, area.closed, fleet.closed, fiji.closed]);
  // The server notices the disconnects and drops the subscribers.
  for (let i = 0; i < 100 && f.live.stats().subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(f.live.stats().subscribers, 0, 'disconnected clients are unsubscribed');
});

t.test('a client that stops reading costs at most one pending event per device', async (t) => {
  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const devices = 2000;
  const rounds = 150;
  const slow = await openSse(`${srv.url}/api/live?token=${TOKEN}`, {}, { keep: false });
  const lastSeen = new Map<string, number>();
  let received = 0;
  slow.onEvent = (e) => {
    const x = data(e);
    received++;
    lastSeen.set(x.deviceId, x.seq);
  };
  slow.pause();
  const pad = 'x'.repeat(40);
  let maxPending = 0;
  let maxBuffered = 0;
  for (let r = 1; r <= rounds; r++) {
    const batch: Fix[] = [];
    for (let d = 0; d < devices; d++) batch.push(fix(`dev-${pad}-${d}`, r, { time: 1e12 + r * 1000 }));
    await f.live.handleBatch(batch);
    await new Promise((res) => setImmediate(res));
    const s = f.live.stats();
    maxPending = Math.max(maxPending, s.maxPending);
    maxBuffered = Math.max(maxBuffered, s.maxBufferedBytes);
  }
  const stats = f.live.stats();
  t.ok(stats.slowSubscribers >= 1, 'the client was seen as slow');
  t.ok(maxPending <= devices, `pending stayed within one per device (max ${maxPending})`);
  t.ok(stats.coalesced > 0, `updates were coalesced (${stats.coalesced})`);
  // Buffered in user space: one write chunk past the socket's high-water mark, not the backlog.
  t.ok(maxBuffered < 1024 * 1024, `server-side buffer stayed bounded (max ${maxBuffered} bytes)`);
  const total = devices * rounds;
  slow.resume();
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${lastSeen.size} devices caught up`)), 30_000);
    const check = setInterval(() => {
      if (lastSeen.size === devices && [...lastSeen.values()].every((s) => s === rounds)) {
        clearInterval(check);
        clearTimeout(deadline);
        resolve();
      }
    }, 20);
  });
  t.ok(received < total / 2, `the client got ${received} events for ${total} updates, not a replay`);
  t.pass('after catching up every device shows its newest position');
  slow.close();
});

t.test('closing the server ends open streams', async (t) => {
  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  t.teardown(() => f.cleanup());
  const c = await openSse(`${srv.url}/api/live?token=${TOKEN}`);
  t.equal(c.status, 200);
  // Fixes keep arriving while the server shuts down: writes racing the end must not throw.
  let seq = 0;
  const feeding = setInterval(() => void f.live.handleBatch([fix('late', ++seq)]), 1);
  await srv.app.close();
  await c.closed;
  await new Promise((r) => setTimeout(r, 50));
  clearInterval(feeding);
  t.equal(f.live.stats().subscribers, 0);
});

t.test('a client that takes nothing for too long is disconnected', async (t) => {
  const f = await webFixture({ sseHeartbeatMs: 50, sseMaxStallMs: 300 });
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const stuck = await openSse(`${srv.url}/api/live?token=${TOKEN}`, {}, { keep: false });
  const healthy = await openSse(`${srv.url}/api/live?token=${TOKEN}`, {}, { keep: false });
  stuck.pause();
  let healthyEvents = 0;
  healthy.onEvent = () => healthyEvents++;
  const pad = 'y'.repeat(60);
  // Fill the stuck client's socket until the server sees it as slow, then keep updating.
  for (let r = 1; f.live.stats().slowSubscribers === 0 && r < 500; r++) {
    await f.live.handleBatch(Array.from({ length: 1000 }, (_, d) => fix(`d-${pad}-${d}`, r)));
    await new Promise((res) => setImmediate(res));
  }
  t.equal(f.live.stats().slowSubscribers, 1, 'the paused client became slow');
  for (let i = 0; i < 200 && f.live.stats().subscribers > 1; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(f.live.stats().subscribers, 1, 'the server dropped the stalled stream; the healthy one is left');
  // A paused socket does not notice; once it reads again it finds the connection reset.
  stuck.resume();
  await stuck.closed;
  t.pass('the stalled client saw its connection closed');
  t.ok(healthyEvents > 0, 'the healthy client kept receiving');
  healthy.close();
});

t.test('share links open one device stream until they expire', async (t) => {
  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  // A second server on the same live view whose clock runs 58 s behind: its 60 s links expire
  // 1 to 2 s from now in real time (expiry is in whole seconds).
  const lagging = await startHttpServer({ ...f.deps, now: () => Date.now() - 58_000 });
  t.teardown(async () => {
    await srv.app.close();
    await lagging.app.close();
    await f.cleanup();
  });
  await f.live.handleBatch([fix('rider-7', 1), fix('rider-8', 1)]);
  const issue = async (base: string, id: string, ttlS?: number) => {
    const r = await fetch(`${base}/api/devices/${id}/share`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(ttlS === undefined ? {} : { ttlS }),
    });
    return { status: r.status, body: (await r.json()) as { share: string; path: string; expires: string } };
  };
  t.equal((await fetch(`${srv.url}/api/devices/rider-7/share`, { method: 'POST' })).status, 401);
  const bad = await issue(srv.url, 'rider-7', 5);
  t.equal(bad.status, 400);
  // JSON.parse gives Infinity for 1e400; ajv lets it past its maximum, so it is refused after.
  for (const ttl of ['1e400', '"Infinity"', '"-Infinity"']) {
    const r = await fetch(`${srv.url}/api/devices/rider-7/share`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: `{"ttlS":${ttl}}`,
    });
    t.equal(r.status, 400, `ttlS ${ttl}`);
    t.match(
      ((await r.json()) as { message: string }).message,
      /body\.ttlS must be an integer number of seconds/,
    );
  }
  const noBody = await fetch(`${srv.url}/api/devices/rider-7/share`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  t.equal(noBody.status, 200, 'no body at all: the default TTL');
  const link = await issue(srv.url, 'rider-7');
  t.equal(link.status, 200);
  t.ok(Math.abs(Date.parse(link.body.expires) - Date.now() - 3600_000) < 5000, 'one hour by default');
  t.notOk(link.body.share.includes(TOKEN));

  const c = await openSse(`${srv.url}${link.body.path}`);
  t.equal(c.status, 200, 'the share link opens its device');
  await c.waitFor((e) => e.length >= 1, 'rider-7 now');
  t.equal(data(c.events[0]!).deviceId, 'rider-7');
  c.close();

  const other = await openSse(
    `${srv.url}/api/devices/rider-8/live?share=${encodeURIComponent(link.body.share)}`,
  );
  t.equal(other.status, 401, 'not for another device');
  other.close();
  const fleet = await openSse(`${srv.url}/api/live?share=${encodeURIComponent(link.body.share)}`);
  t.equal(fleet.status, 401, 'not for the fleet');
  fleet.close();
  const forged = await openSse(
    `${srv.url}/api/devices/rider-7/live?share=${link.body.share.replace(/^\d+/, '9999999999')}`,
  );
  t.equal(forged.status, 401, 'a changed expiry breaks the signature');
  forged.close();

  const short = await issue(lagging.url, 'rider-7', 60);
  const s = await openSse(`${srv.url}${short.body.path}`);
  t.equal(s.status, 200);
  await s.closed;
  t.pass('the stream ended when the link expired');
  const again = await openSse(`${srv.url}${short.body.path}`);
  t.equal(again.status, 401, 'and an expired link is refused');
  again.close();
});

t.test('the number of open streams is capped', async (t) => {
  const f = await webFixture({ sseMaxStreams: 2 });
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const a = await openSse(`${srv.url}/api/live?token=${TOKEN}`);
  const b = await openSse(`${srv.url}/api/devices/x/live?token=${TOKEN}`);
  const c = await openSse(`${srv.url}/api/live?token=${TOKEN}`);
  t.same([a.status, b.status, c.status], [200, 200, 503]);
  t.equal(c.headers['retry-after'], '30');
  c.close();
  a.close();
  await a.closed;
  for (let i = 0; i < 100 && f.live.stats().subscribers > 1; i++) await new Promise((r) => setTimeout(r, 20));
  const d = await openSse(`${srv.url}/api/live?token=${TOKEN}`);
  t.equal(d.status, 200, 'a closed stream frees its place');
  b.close();
  d.close();
});

t.test('at start the live view holds the last stored fix of each device', async (t) => {
  const f = await webFixture();
  const base = Date.UTC(2026, 10, 25, 7);
  await f.store.writeFixes([
    fix('quiet-1', 1, { time: base }),
    fix('quiet-1', 2, { time: base + 1000, lat: 52.7 }),
    fix('quiet-2', 5, { time: base + 2000 }),
  ]);
  // The live group already holds a newer fix of quiet-2: the restore must not undo it.
  await f.live.handleBatch([fix('quiet-2', 6, { time: base + 3000, lat: 48.1 })]);
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const c = await openSse(`${srv.url}/api/devices/quiet-1/live?token=${TOKEN}`);
  await c.waitFor((e) => e.length >= 1, 'the stored position');
  const first = data(c.events[0]!);
  t.equal(first.seq, 2);
  t.equal(first.lat, 52.7);
  const row = (await f.store.devices()).find((d) => d.deviceId === 'quiet-1')!;
  t.equal(first.receivedAt, row.lastSeenMs, 'it keeps the time it was stored, so it shows as quiet');
  t.equal(f.live.get('quiet-2')?.fix.seq, 6);
  c.close();

  // A database that does not answer at start does not stop the server.
  const g = await webFixture();
  await g.store.close();
  const app = await buildServer(g.deps);
  t.equal(g.live.stats().devices, 0);
  await app.close();
  await g.cleanup().catch(() => undefined);
});
