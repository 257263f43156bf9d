// The dashboard login cannot be used to guess INGEST_TOKEN: per client address, 5 wrong tokens a
// minute, then 429 with Retry-After until the window ends, for the right token too; successful
// logins never count; the memory it keeps is bounded. The clock is the server's `now`, moved by
// hand, so nothing here depends on how fast the machine is.
import t from 'tap';
import { clientKey, LoginLimiter } from '../ingest/http/login-limit.js';
import { serve } from './helpers/ingest-http.js';
import { AUTH, TOKEN } from './helpers/ingest-web.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function limited(t: Parameters<typeof serve>[0]) {
  const clock = { now: Date.UTC(2026, 10, 25, 12) };
  const f = await serve(t, { now: () => clock.now });
  const login = (from: string, token: string) =>
    f.app.inject({
      method: 'POST',
      url: '/login',
      headers: FORM,
      payload: `token=${encodeURIComponent(token)}`,
      remoteAddress: from,
    });
  const open = (from: string, token: string) =>
    f.app.inject({ url: `/?token=${encodeURIComponent(token)}`, remoteAddress: from });
  return { ...f, clock, login, open };
}

t.test('5 wrong tokens a minute, then 429 for the rest of the minute, right token included', async (t) => {
  const s = await limited(t);
  for (let i = 1; i <= 5; i++) {
    const r = await s.login('10.0.0.1', `guess-${i}`);
    t.equal(r.statusCode, 401, `wrong token ${i} is a plain 401`);
  }
  s.clock.now += 20_000;
  const sixth = await s.login('10.0.0.1', 'guess-6');
  t.equal(sixth.statusCode, 429);
  t.equal(sixth.headers['retry-after'], '40', 'seconds left of the minute that began with the first failure');
  t.match(sixth.body, /Too many wrong tokens from this address\. Try again in 40 s\./);

  const right = await s.login('10.0.0.1', TOKEN);
  t.equal(right.statusCode, 429, 'while blocked the right token gets the same answer as a wrong one');
  t.notOk(right.headers['set-cookie'], 'and no session');

  t.equal((await s.login('10.0.0.2', TOKEN)).statusCode, 303, 'other addresses are not affected');
  t.equal((await s.login('10.0.0.2', 'typo')).statusCode, 401);
  const api = await s.app.inject({ url: '/api/devices', headers: AUTH, remoteAddress: '10.0.0.1' });
  t.equal(api.statusCode, 200, 'API clients with the bearer token keep working from a blocked address');

  s.clock.now += 39_000;
  t.equal((await s.login('10.0.0.1', TOKEN)).headers['retry-after'], '1');
  s.clock.now += 1_000;
  const after = await s.login('10.0.0.1', TOKEN);
  t.equal(after.statusCode, 303, 'a minute after the first failure the address may log in again');
  t.match(String(after.headers['set-cookie']), /ingest_session=/);
});

t.test('successful logins never count, and clear the failures before them', async (t) => {
  const s = await limited(t);
  for (let i = 0; i < 20; i++) t.equal((await s.login('10.0.0.1', TOKEN)).statusCode, 303);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) t.equal((await s.login('10.0.0.1', 'typo')).statusCode, 401);
    t.equal((await s.login('10.0.0.1', TOKEN)).statusCode, 303, `round ${round}: 4 typos then the token`);
  }
});

t.test('/?token= is a login too and shares the limit with the form', async (t) => {
  const s = await limited(t);
  for (let i = 0; i < 3; i++) t.equal((await s.login('10.0.0.1', 'typo')).statusCode, 401);
  for (let i = 0; i < 2; i++) {
    const r = await s.open('10.0.0.1', 'typo');
    t.equal(r.statusCode, 303);
    t.equal(r.headers.location, '/login?error=token', 'to the login page, which says why');
  }
  const wrong = await s.app.inject({ url: '/login?error=token' });
  t.match(wrong.body, /<p class="error" role="alert">That token is not valid\.<\/p>/);
  // A browser is sent to the login page saying so, not shown a JSON answer.
  const blocked = await s.open('10.0.0.1', TOKEN);
  t.equal(blocked.statusCode, 303);
  t.equal(blocked.headers.location, '/login?error=blocked');
  t.equal(blocked.headers['retry-after'], '60');
  t.notOk(blocked.headers['set-cookie']);
  const blockedPage = await s.app.inject({ url: '/login?error=blocked' });
  t.match(blockedPage.body, /Too many wrong tokens from this address/);
  t.notMatch((await s.app.inject({ url: '/login' })).body, /class="error"/, 'no error without one');
  t.equal((await s.app.inject({ url: '/login?error=<script>' })).statusCode, 400, 'only the known errors');
  t.equal((await s.login('10.0.0.1', TOKEN)).statusCode, 429);
  // A session cookie opened without ?token= is not a login attempt: the page still opens.
  const ok = await s.login('10.0.0.2', TOKEN);
  const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
  const page = await s.app.inject({ url: '/', headers: { cookie }, remoteAddress: '10.0.0.1' });
  t.equal(page.statusCode, 200);

  s.clock.now += 60_000;
  const opened = await s.open('10.0.0.1', TOKEN);
  t.equal(opened.statusCode, 303);
  t.equal(opened.headers.location, '/');
});

t.test('IPv6 clients are counted per /64, IPv4-mapped ones as IPv4', async (t) => {
  t.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(clientKey('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
  t.equal(clientKey('2001:db8::7'), '2001:db8:0:0::/64');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
  t.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(clientKey('192.0.2.7'), '192.0.2.7');

  const s = await limited(t);
  for (let i = 1; i <= 5; i++) await s.login(`2001:db8:1:2::${i}`, 'typo');
  t.equal((await s.login('2001:db8:1:2:ffff::9', TOKEN)).statusCode, 429, 'another address in the /64');
  t.equal((await s.login('2001:db8:1:3::1', TOKEN)).statusCode, 303, 'the next /64 is someone else');
});

t.test('memory is bounded: the oldest addresses are forgotten first', async (t) => {
  let now = 0;
  const limiter = new LoginLimiter({ maxFailures: 2, windowMs: 60_000, maxClients: 100 }, () => now);
  for (let i = 0; i < 10_000; i++) {
    limiter.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 100 === 0) now += 1;
  }
  t.equal(limiter.size, 100, '10,000 addresses, 100 remembered');
  const last = '10.0.39.15'; // i = 9999
  t.equal(limiter.retryAfterS(last), 0, 'one failure is not yet blocked');
  t.equal(limiter.failed(last), true, 'the second uses up the allowance');
  t.ok(limiter.retryAfterS(last) > 0);
  t.equal(limiter.retryAfterS('10.0.0.0'), 0, 'the first address was forgotten');
  // A window that ended frees its entry when the address is next seen.
  now += 60_000;
  t.equal(limiter.retryAfterS(last), 0);
  t.equal(limiter.size, 99);
});
