// The ingest HTTP API through fastify.inject on a real SQLite store: auth (bearer, cookie,
// ?token= only where allowed, redaction from logs), validation messages, devices/track/trips,
// /healthz and /metrics.
import t from 'tap';
import { sessionValue } from '../ingest/http/auth.js';
import { LiveView } from '../ingest/live/live-view.js';
import { capturedLog, serve } from './helpers/ingest-http.js';
import { AUTH, fix, TOKEN, webFixture } from './helpers/ingest-web.js';

t.test('bearer token guards everything but /healthz', async (t) => {
  const f = await serve(t);
  const { app } = f;
  const none = await app.inject({ url: '/api/devices' });
  t.equal(none.statusCode, 401);
  t.match(none.headers['www-authenticate'], /^Bearer/);
  t.match(none.json().message, /Authorization: Bearer/);
  t.equal(
    (await app.inject({ url: '/api/devices', headers: { authorization: 'Bearer wrong' } })).statusCode,
    401,
  );
  t.equal(
    (await app.inject({ url: '/api/devices', headers: { authorization: `Bearer ${TOKEN}x` } })).statusCode,
    401,
    'a longer token with the right prefix is still wrong',
  );
  const ok = await app.inject({ url: '/api/devices', headers: AUTH });
  t.equal(ok.statusCode, 200);
  t.equal(ok.headers['cache-control'], 'no-store', 'positions are not cached on the way');
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401);
  t.equal((await app.inject({ url: '/api/stats' })).statusCode, 401);
  t.equal((await app.inject({ url: '/dashboard/app.js' })).statusCode, 401);
  t.equal((await app.inject({ url: '/no/such/route' })).statusCode, 401, 'unknown routes do not reveal 404');
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  // ?token= is for EventSource and the page only, not the JSON API.
  t.equal((await app.inject({ url: `/api/devices?token=${TOKEN}` })).statusCode, 401);
  // A bad query on a stream route is still 401 before it is 400: no probing without the token.
  t.equal((await app.inject({ url: '/api/live?bbox=x' })).statusCode, 401);
  t.equal((await app.inject({ url: `/api/live?bbox=x&token=${TOKEN}` })).statusCode, 400);
  // HEAD on a stream would subscribe a reader that never reads.
  const head = await app.inject({ method: 'HEAD', url: '/api/live', headers: AUTH });
  t.equal(head.statusCode, 405);
  t.equal(head.headers.allow, 'GET');
  t.equal(f.live.stats().subscribers, 0);
});

t.test('a known path with a method it does not answer is 405 with Allow; an unknown path 404', async (t) => {
  const { app } = await serve(t);
  const post = await app.inject({ method: 'POST', url: '/api/devices?x=1', headers: AUTH });
  t.equal(post.statusCode, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  t.same(post.json(), {
    statusCode: 405,
    error: 'Method Not Allowed',
    message: '/api/devices answers GET, HEAD, not POST',
  });
  // A route with a parameter, and public ones (a wrong method on them needs the token too, as
  // any path the server has no route for).
  const del = await app.inject({ method: 'DELETE', url: '/api/devices/rider-1/track', headers: AUTH });
  t.equal(del.statusCode, 405);
  t.equal(del.headers.allow, 'GET, HEAD');
  t.equal((await app.inject({ method: 'PUT', url: '/login' })).statusCode, 401);
  const login = await app.inject({ method: 'PUT', url: '/login', headers: AUTH });
  t.equal(login.statusCode, 405);
  t.equal(login.headers.allow, 'GET, HEAD, POST');
  t.equal((await app.inject({ method: 'GET', url: '/logout', headers: AUTH })).headers.allow, 'POST');
  // Still 401 first without the token: a guarded path is not revealed by its methods.
  t.equal((await app.inject({ method: 'POST', url: '/api/devices' })).statusCode, 401);
  // Unknown paths, and a known prefix with a segment too many, are still 404.
  for (const url of ['/api/nothing', '/api/devices/rider-1/track/extra', '/api/devices/rider-1']) {
    const r = await app.inject({ method: 'GET', url, headers: AUTH });
    t.equal(r.statusCode, 404, url);
    t.equal(r.json().message, `no route GET ${url}`);
  }
});

t.test('dashboard login sets an HttpOnly cookie that is not the token', async (t) => {
  const f = await serve(t);
  const { app } = f;
  const page = await app.inject({ url: '/' });
  t.equal(page.statusCode, 303);
  t.equal(page.headers.location, '/login');
  const form = await app.inject({ url: '/login' });
  t.equal(form.statusCode, 200);
  t.match(form.body, /<form method="post" action="\/login">/);

  const wrong = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'token=nope',
  });
  t.equal(wrong.statusCode, 401);
  t.match(wrong.body, /not valid/);
  t.notOk(wrong.headers['set-cookie']);

  const ok = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${encodeURIComponent(TOKEN)}`,
  });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/');
  const cookie = String(ok.headers['set-cookie']);
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);
  t.notOk(cookie.includes(TOKEN), 'the cookie does not carry the token itself');
  const value = cookie.split(';')[0]!;
  t.equal(value, `ingest_session=${sessionValue(TOKEN)}`);

  const withCookie = await app.inject({ url: '/api/devices', headers: { cookie: value } });
  t.equal(withCookie.statusCode, 200);
  const index = await app.inject({ url: '/', headers: { cookie: `other=1; ${value}` } });
  t.equal(index.statusCode, 200);
  t.match(index.headers['content-security-policy'], /default-src 'self'/);
  t.equal(index.headers['referrer-policy'], 'no-referrer');
  t.match(index.body, /"offlineAfterS":120/);
  t.equal(
    (await app.inject({ url: '/api/devices', headers: { cookie: 'ingest_session=forged' } })).statusCode,
    401,
  );

  // Opening /?token= logs in and sends the browser to a URL without the token.
  const viaQuery = await app.inject({ url: `/?token=${TOKEN}` });
  t.equal(viaQuery.statusCode, 303);
  t.equal(viaQuery.headers.location, '/');
  t.match(String(viaQuery.headers['set-cookie']), /ingest_session=/);

  const out = await app.inject({ method: 'POST', url: '/logout' });
  t.match(String(out.headers['set-cookie']), /Max-Age=0/);
});

t.test('the token never reaches the request log', async (t) => {
  const { logger, lines } = capturedLog('debug');
  const { app } = await serve(t, { logger });
  await app.inject({ url: `/?token=${TOKEN}` });
  await app.inject({ url: `/api/devices`, headers: AUTH });
  await app.inject({ url: `/api/live?bbox=1,2,3&token=${TOKEN}` });
  await app.inject({ url: `/api/devices/x/track?from=bad`, headers: AUTH });
  await app.inject({ url: '/api/devices/x/live?share=123.secret-share-signature' });
  const text = lines.join('');
  t.notOk(text.includes('secret-share-signature'), 'no share token in the logs');
  t.match(text, /share=\[redacted\]/);
  t.ok(lines.length >= 4, 'requests were logged');
  t.notOk(text.includes(TOKEN), 'no token in the logs');
  t.match(text, /token=\[redacted\]/);
  t.match(text, /"url":"\/api\/devices"/);
});

t.test("the router's own errors: the API's shape, no URL echoed, logged without the token", async (t) => {
  const { logger, lines } = capturedLog('debug');
  const { app } = await serve(t, { logger });
  // Before, fastify answered these itself: { error, code, message: "'<whole URL>' is ..." },
  // with a ?token= in it, and nothing in the request log.
  const long = `/api/devices/${'a'.repeat(300)}/track`;
  const tooLong = await app.inject({ url: long, headers: AUTH });
  t.equal(tooLong.statusCode, 414);
  t.same(tooLong.json(), {
    statusCode: 414,
    error: 'URI Too Long',
    message: 'a path parameter is longer than 100 characters (a device id has 1 to 64)',
  });
  const badUrl = await app.inject({ url: `/api/devices/%C3/live?token=${TOKEN}` });
  t.equal(badUrl.statusCode, 400);
  t.same(badUrl.json(), {
    statusCode: 400,
    error: 'Bad Request',
    message: 'the URL path has a %-escape that is not valid UTF-8 (write a literal % as %25)',
  });
  t.notOk(badUrl.body.includes(TOKEN), 'the token is not echoed');
  const logged = lines.map((l) => JSON.parse(l) as { msg: string; status?: number; url?: string });
  const requests = logged.filter((l) => l.msg === 'request');
  t.same(
    requests.map((l) => l.status),
    [414, 400],
    'both are in the request log',
  );
  t.equal(requests[1]!.url, '/api/devices/%C3/live?token=[redacted]');
  t.notOk(lines.join('').includes(TOKEN), 'no token in the logs');
});

t.test('a refused share link says why, not "send the bearer token"', async (t) => {
  const { createShareToken } = await import('../ingest/http/share.js');
  const NOW = Date.parse('2026-12-01T12:00:00Z');
  const { app } = await serve(t, { now: () => NOW });
  const refusal = async (url: string) => {
    const r = await app.inject({ url });
    t.equal(r.statusCode, 401, url);
    return (r.json() as { message: string }).message;
  };
  const expiry = NOW / 1000 - 60;
  const expired = createShareToken(TOKEN, 'rider-7', expiry);
  t.equal(
    await refusal(`/api/devices/rider-7/live?share=${expired}`),
    'this share link expired at 2026-12-01T11:59:00.000Z: ask for a new one',
  );
  const valid = createShareToken(TOKEN, 'rider-7', NOW / 1000 + 3600);
  t.equal(
    await refusal(`/api/devices/rider-8/live?share=${valid}`),
    'this share link is not for device rider-8, or was changed or cut short: ask for a new one',
  );
  // An expired link for another device is not called expired: its expiry is not ours to trust.
  t.match(await refusal(`/api/devices/rider-8/live?share=${expired}`), /not for device rider-8/);
  for (const bad of ['garbage', `${valid.split('.')[0]}.`, '.abc', '1e9.abc']) {
    t.equal(
      await refusal(`/api/devices/rider-7/live?share=${encodeURIComponent(bad)}`),
      'this is not a valid share link (it may have been cut short when copied): ask for a new one',
      bad,
    );
  }
  t.equal(
    await refusal(`/api/live?share=${valid}`),
    "a share link opens only its own device's stream, /api/devices/<id>/live",
  );
  t.match(await refusal('/api/devices/rider-7/live'), /Authorization: Bearer/, 'no link: the token');
  t.match(await refusal('/api/devices/rider-7/live?token=wrong'), /Authorization: Bearer/);
});

t.test('redactUrl: the token is found however the query spells it', async (t) => {
  const { redactUrl } = await import('../ingest/http/redact.js');
  const S = 'SECRET0123456789abcdef';
  for (const url of [
    `/?token=${S}`,
    `/?TOKEN=${S}`,
    `/?to%6Ben=${S}`, // fastify decodes the name: this logged in, and logged the token in clear
    `/?x=1%26token=${S}`,
    `/?a=1;token=${S}`,
    `/api/live?bbox=1,2,3,4&share=${S}`,
    `/?token=${S}%`, // undecodable
    `/?t%6Fken+=${S}`,
  ]) {
    const out = redactUrl(url);
    t.notOk(out.includes(S), `${url} -> ${out}`);
  }
  t.equal(redactUrl('/api/live?bbox=1,2,3,4&x=y'), '/api/live?bbox=1,2,3,4&x=y', 'other values are kept');
  t.equal(redactUrl('/api/devices'), '/api/devices');
  t.equal(redactUrl(`/?to%6Ben=${S}`), '/?to%6Ben=[redacted]');
});

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`devices: last fix, online/offline by threshold, pending and lost gaps [${backend}]`, async (t) => {
    let now = Date.now();
    const f = await serve(t, { now: () => now, offlineAfterMs: 60_000 }, backend);
    const { app } = f;
    // rider-1: seqs 1,2 then 6 reporting 1..3 dropped: 3 is lost, 4..5 still expected.
    await f.store.writeFixes([
      fix('rider-1', 1),
      fix('rider-1', 2),
      fix('rider-1', 6, { droppedThrough: 3 }),
    ]);
    await f.store.writeFixes([fix('rider-2', 1)]);
    const r = await app.inject({ url: '/api/devices', headers: AUTH });
    t.equal(r.statusCode, 200);
    const body = r.json();
    t.equal(body.offlineAfterS, 60);
    const d1 = body.devices.find((d: { deviceId: string }) => d.deviceId === 'rider-1');
    t.equal(d1.status, 'online');
    t.equal(d1.lastFix.seq, 6);
    t.equal(d1.missing, 2);
    t.equal(d1.lost, 1);
    t.same(d1.gaps, [
      { from: 3, to: 3, lost: true, rejected: false },
      { from: 4, to: 5, lost: false, rejected: false },
    ]);
    t.match(d1.lastSeen, /^\d{4}-\d{2}-\d{2}T/);
    t.ok(d1.backlogS > 0, 'old GNSS times received now read as backlog');

    // The live view is ahead of the database: its newer fix is shown.
    const newer = fix('rider-2', 2);
    await f.live.handleBatch([newer]);
    const d2 = (await app.inject({ url: '/api/devices', headers: AUTH }))
      .json()
      .devices.find((d: { deviceId: string }) => d.deviceId === 'rider-2');
    t.equal(d2.lastFix.seq, 2);

    now += 61_000;
    const later = (await app.inject({ url: '/api/devices', headers: AUTH })).json();
    t.same(
      later.devices.map((d: { status: string }) => d.status),
      ['offline', 'offline'],
    );
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`devices: those only the live view knows are listed too, once [${backend}]`, async (t) => {
    // As under `--groups live`: the live group sees devices no fix-store group wrote.
    // The store stamps what it writes with the real clock, so the test's clock starts there too.
    let now = Date.now();
    const live = new LiveView(() => now);
    const f = await serve(t, { now: () => now, offlineAfterMs: 60_000, live }, backend);
    await f.store.writeFixes([fix('rider-1', 1)]);
    const z = fix('zeta', 7, { time: now - 5000 });
    await live.handleBatch([z, fix('alpha', 3, { droppedThrough: 1 })]);
    const list = async () => (await f.app.inject({ url: '/api/devices', headers: AUTH })).json().devices;
    const whichStored = (ds: Array<{ deviceId: string; stored: boolean }>) =>
      ds.map((d) => `${d.deviceId} ${d.stored ? 'stored' : 'live only'}`);

    const devices = await list();
    t.same(
      whichStored(devices),
      ['rider-1 stored', 'alpha live only', 'zeta live only'],
      'stored devices first (database order), then live-only ones by id',
    );
    const zeta = devices[2];
    t.same(zeta, {
      deviceId: 'zeta',
      status: 'online',
      lastFix: z,
      lastSeen: new Date(now).toISOString(),
      lastSeenMs: now,
      backlogS: 5,
      stored: false,
    });
    t.notOk('missing' in zeta || 'gaps' in zeta || 'fixCount' in zeta, 'unknown counts are absent, not zero');
    t.equal(devices[1].lastFix.droppedThrough, 1);

    now += 61_000;
    t.same(
      (await list()).map((d: { status: string }) => d.status),
      ['offline', 'offline', 'offline'],
      'live-only devices go offline like the others',
    );

    // Once the database has the device it is listed once, from there.
    await f.store.writeFixes([z]);
    const after = await list();
    t.same(whichStored(after), ['rider-1 stored', 'zeta stored', 'alpha live only']);
    t.equal(after.find((d: { deviceId: string }) => d.deviceId === 'zeta').fixCount, 1);
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`devices: one whose every fix was refused is listed, with why [${backend}]`, async (t) => {
    // A receiver whose clock is years off: the fix-store group refuses everything it sends, so
    // the database has no fix of it. Ops must still find it in the list, and see why.
    let now = Date.now();
    const f = await serve(t, { now: () => now, offlineAfterMs: 60_000 }, backend);
    await f.store.writeFixes([fix('rider-1', 1), fix('rider-1', 3)]);
    const why = 'future time 2046-03-01T00:00:00.000Z: 170000.0 h ahead';
    await f.store.writeRejected([
      { deviceId: 'rider-1', seq: 2, reason: 'lat 95 is outside -90..90' },
      { deviceId: 'clock-off', seq: 1, reason: why },
      { deviceId: 'clock-off', seq: 3, reason: why },
    ]);
    const list = async () => (await f.app.inject({ url: '/api/devices', headers: AUTH })).json().devices;
    const devices = await list();
    t.same(
      devices.map((d: { deviceId: string }) => d.deviceId),
      ['rider-1', 'clock-off'],
      'stored devices, then the refused-only one',
    );
    const [rider, off] = devices;
    t.same(
      [rider.lastRejected.seq, rider.lastRejected.reason, rider.rejected],
      [2, 'lat 95 is outside -90..90', 1],
      'a stored device names its last refusal',
    );
    t.ok(Math.abs(off.lastSeenMs - Date.now()) < 60_000, 'seen when the refusal was recorded');
    t.same(
      { ...off, lastSeen: undefined, lastSeenMs: undefined, lastRejected: { ...off.lastRejected, atMs: 0 } },
      {
        deviceId: 'clock-off',
        status: 'online',
        lastSeen: undefined,
        lastSeenMs: undefined,
        maxSeq: 0,
        fixCount: 0,
        droppedThrough: 0,
        missing: 1,
        lost: 0,
        rejected: 2,
        lastRejected: { seq: 3, reason: why, atMs: 0 },
        gaps: [
          { from: 1, to: 1, lost: false, rejected: true },
          { from: 2, to: 2, lost: false, rejected: false },
          { from: 3, to: 3, lost: false, rejected: true },
        ],
        stored: true,
      },
      'no lastFix and no backlogS: nothing valid is known of where it is',
    );
    now += 61_000;
    t.equal((await list())[1].status, 'offline', 'offline once nothing came from it for the threshold');
    // Once a valid fix of it is stored it is an ordinary device.
    await f.store.writeFixes([fix('clock-off', 4)]);
    const after = (await list()).find((d: { deviceId: string }) => d.deviceId === 'clock-off');
    t.same([after.lastFix.seq, after.rejected, after.missing, after.lastRejected.seq], [4, 2, 1, 3]);
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`track: ISO or ms bounds, limit, clear 400s [${backend}]`, async (t) => {
    const f = await serve(t, {}, backend);
    const { app } = f;
    const base = Date.UTC(2026, 10, 20, 10, 0, 0);
    const fixes = Array.from({ length: 10 }, (_, i) => fix('r1', i + 1, { time: base + i * 1000 }));
    await f.store.writeFixes(fixes);
    const get = (q: string) => app.inject({ url: `/api/devices/r1/track?${q}`, headers: AUTH });

    const all = await get(`from=${base}&to=${base + 10_000}`);
    t.equal(all.statusCode, 200);
    t.equal(all.json().count, 10);
    t.same(
      all.json().fixes.map((x: { seq: number }) => x.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    t.equal(all.json().truncated, false);

    const iso = await get('from=2026-11-20T10:00:02Z&to=2026-11-20T11:00:05%2B01:00');
    t.same(
      iso.json().fixes.map((x: { seq: number }) => x.seq),
      [3, 4, 5],
      'to is exclusive and the offset is honoured',
    );
    t.equal(iso.json().from, '2026-11-20T10:00:02.000Z');

    const day = await get('from=2026-11-20&to=2026-11-21&limit=4');
    t.equal(day.json().count, 4);
    t.equal(day.json().truncated, true);

    const cases: Array<[string, RegExp]> = [
      [
        'from=yesterday',
        /querystring\.from must be the first time wanted \(default: 24 hours before to\), in milliseconds since 1970 or ISO 8601 with a time zone/,
      ],
      ['from=2026-11-20T10:00:00', /querystring\.from must be/],
      // An unencoded + arrives as a space: the message says how to write it.
      ['from=2026-11-20T10:00:00+01:00', /querystring\.from must be .*\(a \+ in a URL is written %2B\)/],
      ['from=2026-02-30', /from "2026-02-30" is not a real date/],
      // Given twice, it is not malformed: it is repeated.
      ['from=1&from=2', /^querystring\.from is given 2 times: give it once$/],
      ['from=2026-11-21&to=2026-11-20', /from \(2026-11-21T00:00:00.000Z\) is after to/],
      ['limit=0', /querystring\.limit must be an integer from 1 to 100000/],
      ['limit=many', /querystring\.limit must be an integer/],
      // ajv coerces these to +-Infinity and then skips its range checks: refused after it.
      ['limit=Infinity', /querystring\.limit must be an integer from 1 to 100000/],
      ['limit=-Infinity', /querystring\.limit must be an integer from 1 to 100000/],
      ['limit=1e400', /querystring\.limit must be an integer from 1 to 100000/],
      ['limit=%20Infinity', /querystring\.limit must be an integer from 1 to 100000/],
    ];
    for (const [q, msg] of cases) {
      const r = await get(q);
      t.equal(r.statusCode, 400, q);
      t.match(r.json().message, msg, q);
      t.equal(r.json().error, 'Bad Request');
    }
    const longId = await app.inject({ url: `/api/devices/${'x'.repeat(65)}/track`, headers: AUTH });
    t.equal(longId.statusCode, 400);
    t.match(longId.json().message, /params\.id must be a device id of 1 to 64 characters/);
  });

  t.test(
    `track and trips: 404 for a device never heard of, 200 and empty for a known one [${backend}]`,
    async (t) => {
      const f = await serve(t, {}, backend);
      const { app } = f;
      const base = Date.UTC(2026, 10, 20, 10, 0, 0);
      await f.store.writeFixes([fix('stored', 1, { time: base })]);
      await f.store.writeRejected([{ deviceId: 'refused', seq: 1, reason: 'latitude 95 is out of range' }]);
      await f.live.handleBatch([fix('live-only', 1, { time: base })]);
      const range = `from=${base - 3_600_000}&to=${base - 1000}`;
      for (const id of ['stored', 'refused', 'live-only']) {
        for (const url of [
          `/api/devices/${id}/track?${range}`,
          `/api/devices/${id}/trips?from=2020-01-01&to=2020-01-02`,
        ]) {
          const r = await app.inject({ url, headers: AUTH });
          t.equal(r.statusCode, 200, url);
          t.same(r.json().fixes ?? r.json().days, [], `${url}: known, nothing in the range`);
        }
      }
      for (const url of [`/api/devices/nobody/track?${range}`, '/api/devices/nobody/trips']) {
        const r = await app.inject({ url, headers: AUTH });
        t.same([r.statusCode, r.json().message], [404, 'no device nobody'], url);
      }
      // Found by its fixes, the lookup is not needed: the stored device's track in range.
      const hit = await app.inject({
        url: `/api/devices/stored/track?from=${base}&to=${base + 1}`,
        headers: AUTH,
      });
      t.equal(hit.json().count, 1);
    },
  );
}

for (const backend of ['sqlite', 'postgres'] as const) {
  t.test(`trips: per-day rows, day bounds checked [${backend}]`, async (t) => {
    const f = await serve(t, {}, backend);
    const { app } = f;
    const base = Date.UTC(2026, 10, 20, 10, 0, 0);
    // Riding east at ~10 m/s for a minute.
    const fixes = Array.from({ length: 60 }, (_, i) =>
      fix('r1', i + 1, { time: base + i * 1000, lon: 13.4 + i * 0.000147, speed: 10, hdop: 0.8 }),
    );
    await f.store.writeFixes(fixes);
    await f.store.applyTrips(fixes);
    const r = await app.inject({ url: '/api/devices/r1/trips?from=2026-11-20&to=2026-11-20', headers: AUTH });
    t.equal(r.statusCode, 200);
    const days = r.json().days;
    t.equal(days.length, 1);
    t.equal(days[0].day, '2026-11-20');
    t.ok(days[0].distanceM > 500 && days[0].distanceM < 700, `distance ${days[0].distanceM}`);
    t.equal(days[0].maxSpeedMps, 10);
    const none = await app.inject({ url: '/api/devices/r1/trips?from=2026-11-21', headers: AUTH });
    t.same(none.json().days, []);
    const unknown = await app.inject({ url: '/api/devices/nobody/trips', headers: AUTH });
    t.same(
      [unknown.statusCode, unknown.json()],
      [404, { statusCode: 404, error: 'Not Found', message: 'no device nobody' }],
      'a device never heard of is not found',
    );
    const reversed = await app.inject({
      url: '/api/devices/r1/trips?from=2026-11-21&to=2026-11-20',
      headers: AUTH,
    });
    t.equal(reversed.statusCode, 400);
    t.match(reversed.json().message, /from 2026-11-21 is after to 2026-11-20/);
    const bad = await app.inject({ url: '/api/devices/r1/trips?from=20.11.2026', headers: AUTH });
    t.equal(bad.statusCode, 400);
    t.match(bad.json().message, /querystring\.from must be the first day wanted, a UTC day as YYYY-MM-DD/);
    const impossible = await app.inject({ url: '/api/devices/r1/trips?to=2026-13-01', headers: AUTH });
    t.equal(impossible.statusCode, 400);
    t.match(impossible.json().message, /to 2026-13-01 is not a real date/);
  });
}

t.test('healthz: ready only when every check answers in time', async (t) => {
  const state = { kafka: true };
  const f = await serve(t, {
    healthTimeoutMs: 200,
    health: {
      kafka: async () => {
        if (!state.kafka) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
      },
      database: () => f.store.ping(),
      slow: () => Promise.resolve(),
    },
  });
  const { app } = f;
  const ok = await app.inject({ url: '/healthz' });
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { status: 'ok', checks: { kafka: 'ok', database: 'ok', slow: 'ok' } });
  state.kafka = false;
  const down = await app.inject({ url: '/healthz' });
  t.equal(down.statusCode, 503);
  t.equal(down.json().status, 'unavailable');
  t.match(down.json().checks.kafka, /ECONNREFUSED/);
  t.equal(down.json().checks.database, 'ok');

  // A database that hangs is as unready as one that refuses.
  const hung = await serve(t, { healthTimeoutMs: 100, health: { database: () => new Promise(() => {}) } });
  const r = await hung.app.inject({ url: '/healthz' });
  t.equal(r.statusCode, 503);
  t.match(r.json().checks.database, /no answer within 100 ms/);
  // After close the real store refuses too.
  state.kafka = true;
  await f.store.close();
  const closed = await app.inject({ url: '/healthz' });
  t.equal(closed.statusCode, 503);
  t.match(closed.json().checks.database, /^error: /);
});

t.test('metrics: Prometheus text and the dashboard summary agree', async (t) => {
  const f = await serve(t);
  const { app } = f;
  const m = f.metrics;
  m.consumedFixes.inc({ group: 'fix-store' }, 1200);
  m.consumedFixes.inc({ group: 'live' }, 1100);
  m.consumerLag.set({ group: 'fix-store', topic: 'gps.fixes', partition: '0' }, 30);
  m.consumerLag.set({ group: 'fix-store', topic: 'gps.fixes', partition: '1' }, 12);
  m.consumerLag.set({ group: 'live', topic: 'gps.fixes', partition: '0' }, 3);
  // Three groups each saw the same two bad records: the DLQ holds two.
  for (const group of ['fix-store', 'live', 'trips']) m.dlqRecords.inc({ group, reason: 'decode' }, 2);

  const text = await app.inject({ url: '/metrics', headers: AUTH });
  t.equal(text.statusCode, 200);
  t.match(text.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(text.body, /ingest_consumed_fixes_total\{group="fix-store"\} 1200/);
  t.match(text.body, /ingest_consumer_lag\{group="fix-store",topic="gps.fixes",partition="1"\} 12/);

  const t0 = Date.UTC(2026, 10, 25, 9);
  await f.live.handleBatch([
    fix('a', 1, { time: t0 }),
    fix('a', 2, { time: t0 + 1000 }),
    fix('a', 1, { time: t0 }),
  ]);
  const scraped = (await app.inject({ url: '/metrics', headers: AUTH })).body;
  t.match(scraped, /ingest_live_devices 1\n/);
  t.match(scraped, /ingest_live_accepted_fixes_total 2\n/);
  t.match(scraped, /ingest_live_stale_fixes_total 1\n/);
  // Counters (rate() takes a drop as a restart), brought up to the live view's figures each scrape.
  t.match(scraped, /# TYPE ingest_live_accepted_fixes_total counter\n/);
  await f.live.handleBatch([fix('a', 3, { time: t0 + 2000 })]);
  const again = (await app.inject({ url: '/metrics', headers: AUTH })).body;
  t.match(again, /ingest_live_accepted_fixes_total 3\n/);
  t.match(again, /ingest_live_stale_fixes_total 1\n/);
  const stats = (await app.inject({ url: '/api/stats', headers: AUTH })).json();
  t.same(
    stats.groups.map((g: { group: string; lag: number; consumed: number }) => [g.group, g.lag, g.consumed]),
    [
      ['fix-store', 42, 1200],
      ['live', 3, 1100],
      ['trips', 0, 0],
    ],
  );
  t.equal(stats.dlq, 2);
  t.equal(stats.live.devices, 1);
  t.equal(stats.live.accepted, 3);
});

t.test('polled routes log successes at debug, failures at info', async (t) => {
  const { logger, lines } = capturedLog('info');
  const { app } = await serve(t, { logger });
  lines.length = 0; // the start-up lines
  await app.inject({ url: '/api/stats', headers: AUTH });
  await app.inject({ url: '/healthz' });
  t.same(lines, [], 'a dashboard polling every 2 s does not fill the log');
  await app.inject({ url: '/api/stats' });
  await app.inject({ url: '/api/devices/x/track', headers: AUTH });
  t.equal(lines.length, 2);
  t.match(lines[0], /"status":401/);
  t.match(lines[1], /"url":"\/api\/devices\/x\/track","status":404/);
});

t.test('healthz logs when readiness changes, not on every probe', async (t) => {
  const { logger, lines } = capturedLog('info');
  const state = { kafka: false, database: true };
  const { app } = await serve(t, {
    logger,
    health: {
      kafka: async () => {
        if (!state.kafka) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
      },
      database: async () => {
        if (!state.database) throw new Error('SQLITE_BUSY');
      },
    },
  });
  lines.length = 0; // the start-up lines
  const probe = async (status: number) => t.equal((await app.inject({ url: '/healthz' })).statusCode, status);
  const msgs = () =>
    lines.splice(0).map((l) => JSON.parse(l) as { level: number; msg: string; checks?: object });
  // Start-up: Kafka not there yet. One line at info, then quiet while nothing changes.
  await probe(503);
  await probe(503);
  await probe(503);
  let seen = msgs();
  t.same(
    seen.map((m) => [m.level, m.msg]),
    [
      [30, 'not ready yet'],
      [30, 'request'],
    ],
    'a start-up that is not ready yet is one line and one request line, not one per probe',
  );
  t.match(seen[0]!.checks, { kafka: /ECONNREFUSED/, database: 'ok' });
  state.kafka = true;
  await probe(200);
  await probe(200);
  seen = msgs();
  t.same(
    seen.map((m) => m.msg),
    ['ready'],
  );
  t.type((seen[0] as { notReadyMs?: number }).notReadyMs, 'number');
  // Readiness lost: a warning, once; another check failing too is a new line.
  state.database = false;
  await probe(503);
  await probe(503);
  await new Promise((r) => setTimeout(r, 60));
  state.kafka = false;
  await probe(503);
  await probe(503);
  seen = msgs();
  t.same(
    seen.map((m) => [m.level, m.msg]),
    [
      [40, 'not ready'],
      [30, 'request'],
      [40, 'not ready'],
      [30, 'request'],
    ],
  );
  t.match(seen[2]!.checks, { kafka: /ECONNREFUSED/, database: /SQLITE_BUSY/ });
  state.kafka = true;
  state.database = true;
  await probe(200);
  seen = msgs();
  t.same(
    seen.map((m) => m.msg),
    ['ready'],
  );
  // Counted from when readiness was lost, not from the last change of the failing checks.
  t.ok((seen[0] as { notReadyMs?: number }).notReadyMs! >= 60, 'not ready since the database failed');
});

t.test('the bearer scheme is case-insensitive (RFC 7235)', async (t) => {
  const { app } = await serve(t, {});
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const r = await app.inject({ url: '/api/devices', headers: { authorization: `${scheme} ${TOKEN}` } });
    t.equal(r.statusCode, 200, scheme);
  }
  const wrong = await app.inject({ url: '/api/devices', headers: { authorization: `bearer x${TOKEN}` } });
  t.equal(wrong.statusCode, 401, 'the token itself still has to match');
});

t.test('a failing database is a 500 with a generic message, logged with the cause', async (t) => {
  const { logger, lines } = capturedLog('info');
  const f = await serve(t, { logger });
  await f.cleanup(); // closes the store under the server (closing it again at the end is harmless)
  const { app } = f;
  const r = await app.inject({ url: '/api/devices', headers: AUTH });
  t.equal(r.statusCode, 500);
  t.same(r.json(), {
    statusCode: 500,
    error: 'Internal Server Error',
    message: 'internal error (see the server log)',
  });
  t.ok(
    lines.some((l) => /"msg":"request failed"/.test(l) && /"err":/.test(l)),
    'the cause is in the log',
  );
});

t.test('config: token required and checked, loopback by default', async (t) => {
  const { ConfigError, loadConfig } = await import('../shared/config.js');
  const { httpOptions, httpSpec } = await import('../ingest/http/config.js');
  const { startHttpServer } = await import('../ingest/http/server.js');
  t.throws(() => httpOptions(loadConfig(httpSpec, { env: {} })), /INGEST_TOKEN is not set/);
  let err: unknown;
  try {
    loadConfig(httpSpec, { env: { INGEST_TOKEN: 'short' } });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError);
  t.match(
    String(err),
    /INGEST_TOKEN=\(secret value hidden\) is not allowed: expected at least 16 characters/,
  );
  t.notOk(String(err).includes('short'), 'the bad token is not echoed');
  t.throws(
    () => loadConfig(httpSpec, { env: { INGEST_MAP_TILE_URL: 'https://tiles.example/map.png' } }),
    /INGEST_MAP_TILE_URL.*\{z\}, \{x\} and \{y\}/,
  );
  const o = httpOptions(
    loadConfig(httpSpec, {
      env: {
        INGEST_TOKEN: TOKEN,
        INGEST_OFFLINE_AFTER_S: '30',
        INGEST_MAP_TILE_URL: 'https://t.example/{z}/{x}/{y}.png',
      },
    }),
  );
  t.same(o, {
    token: TOKEN,
    offlineAfterMs: 30_000,
    tileUrl: 'https://t.example/{z}/{x}/{y}.png',
    cookieSecure: false,
    listen: { host: '127.0.0.1', port: 8080 },
  });

  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  t.teardown(async () => {
    await srv.app.close();
    await f.cleanup();
  });
  const addr = srv.app.server.address();
  t.equal(
    typeof addr === 'object' && addr ? addr.address : '',
    '127.0.0.1',
    'listens on loopback unless told',
  );
  t.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});
