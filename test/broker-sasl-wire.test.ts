// SASL on the raw wire, where kafkajs and librdkafka cannot be made to misbehave: every
// SaslAuthenticate version (v2 flexible) with a SCRAM client written from RFC 5802 that checks
// the server's signature; v0 handshakes followed by bare tokens; the order rules (only
// ApiVersions and the SASL APIs before login, one login per connection); and malformed tokens,
// which are refused with an error and a closed connection, never a crash.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Reader, Writer } from '../broker/protocol/codec.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import { SaslUsers } from '../broker/protocol/sasl/users.js';
import { inProcessBroker } from './helpers/broker-harness.js';

const PASSWORD = 'pa,ss=word ü';

/** Size-prefixed frames both ways; `raw` sends a frame as given (v0 bare tokens). */
class Wire {
  private buf = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private corr = 1;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const n = this.buf.readInt32BE(0);
        this.frames.push(this.buf.subarray(4, 4 + n));
        this.buf = this.buf.subarray(4 + n);
      }
      this.waiter?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static open(t: Test, port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        const w = new Wire(s);
        t.teardown(() => s.destroy());
        resolve(w);
      });
      s.once('error', reject);
    });
  }

  raw(payload: Buffer): void {
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.socket.write(Buffer.concat([size, payload]));
  }

  /** Next frame, or null when the broker closed the connection first. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.isClosed) return null;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
  }

  /** A request (header v1, or v2 when `flexible`); the response body after its header, or null if closed. */
  async request(apiKey: number, version: number, body: Writer, flexible = false): Promise<Reader | null> {
    const corr = this.corr++;
    const h = new Writer().int16(apiKey).int16(version).int32(corr).nullableString('wire-test');
    if (flexible) h.taggedFields();
    this.raw(Buffer.concat([h.toBuffer(), body.toBuffer()]));
    const f = await this.next();
    if (!f) return null;
    const r = new Reader(f);
    if (r.int32() !== corr) throw new Error('response out of order');
    if (flexible && apiKey !== ApiKey.ApiVersions) r.taggedFields();
    return r;
  }
}

function capturedLog() {
  const lines: string[] = [];
  return {
    log: pino({ level: 'debug' }, { write: (s: string) => lines.push(s) }),
    text: () => lines.join(''),
  };
}

async function saslBroker(t: Test) {
  const logs = capturedLog();
  const users = new SaslUsers().addPassword('agent', PASSWORD).addPassword('a,b=c', PASSWORD);
  const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
  const b = await inProcessBroker(t, { logger: logs.log, sasl: { mechanisms: [...mechanisms], users } });
  return { b, logs };
}

async function handshake(
  w: Wire,
  mechanism: string,
  version = 1,
): Promise<{ error: number; mechanisms: string[] }> {
  const r = await w.request(ApiKey.SaslHandshake, version, new Writer().string(mechanism));
  if (!r) throw new Error('closed during handshake');
  return { error: r.int16(), mechanisms: r.array((r) => r.string()) };
}

interface AuthAnswer {
  error: number;
  message: string | null;
  bytes: Buffer;
  lifetime?: bigint;
}

async function authenticate(w: Wire, version: number, token: Buffer): Promise<AuthAnswer | null> {
  const flex = version >= 2;
  const body = new Writer();
  if (flex) body.compactBytes(token).taggedFields();
  else body.bytes(token);
  const r = await w.request(ApiKey.SaslAuthenticate, version, body, flex);
  if (!r) return null;
  const error = r.int16();
  const message = r.nullableStr(flex);
  const bytes = flex ? r.compactBytes() : r.bytes();
  const a: AuthAnswer = { error, message, bytes: Buffer.from(bytes) };
  if (version >= 1) a.lifetime = r.int64();
  r.tags(flex);
  if (r.remaining !== 0) throw new Error('bytes left over in SaslAuthenticate response');
  return a;
}

/** The client side of SCRAM (RFC 5802), written from the RFC for this test. */
function scramClient(hash: 'sha256' | 'sha512', user: string, password: string) {
  const len = hash === 'sha256' ? 32 : 64;
  const cnonce = randomBytes(16).toString('base64');
  const bare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${cnonce}`;
  let expectedServerSig = '';
  return {
    first: Buffer.from(`n,,${bare}`),
    final(serverFirst: string, proofFor = password): Buffer {
      const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)]));
      const nonce = attrs.get('r')!;
      if (!nonce.startsWith(cnonce)) throw new Error('server nonce does not extend ours');
      const salted = pbkdf2Sync(
        proofFor.normalize('NFKC'),
        Buffer.from(attrs.get('s')!, 'base64'),
        Number(attrs.get('i')),
        len,
        hash,
      );
      const clientKey = createHmac(hash, salted).update('Client Key').digest();
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=biws,r=${nonce}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const sig = createHmac(hash, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
      const serverKey = createHmac(hash, salted).update('Server Key').digest();
      expectedServerSig = createHmac(hash, serverKey).update(authMessage).digest('base64');
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
    },
    serverSignatureOk: (serverFinal: string) => serverFinal === `v=${expectedServerSig}`,
  };
}

/** Metadata v1 for one topic: served means logged in. */
async function metadata(w: Wire, topic: string): Promise<Reader | null> {
  return w.request(
    ApiKey.Metadata,
    1,
    new Writer().array([topic], (w, s) => w.string(s)),
  );
}

t.test('before login: ApiVersions lists the SASL APIs; any other API closes the connection', async (t) => {
  const { b, logs } = await saslBroker(t);
  const w = await Wire.open(t, b.port);
  const av = await w.request(ApiKey.ApiVersions, 0, new Writer());
  t.equal(av?.int16(), ErrorCode.NONE, 'ApiVersions answered before login');
  const list = av!.array((r) => [r.int16(), r.int16(), r.int16()]);
  t.same(
    list.filter(([k]) => k === ApiKey.SaslHandshake || k === ApiKey.SaslAuthenticate),
    [
      [ApiKey.SaslHandshake, 0, 1],
      [ApiKey.SaslAuthenticate, 0, 2],
    ],
    'SaslHandshake 0-1 and SaslAuthenticate 0-2 advertised',
  );
  t.equal(await metadata(w, 'sneaky'), null, 'Metadata before login: no answer, connection closed');
  t.notOk(b.context.topics.names().includes('sneaky'), 'and not acted on (no auto-create)');
  t.match(logs.text(), /"api":"Metadata".*"request before SASL authentication; closing connection"/);

  // After a handshake but before the login finished, still nothing else.
  const w2 = await Wire.open(t, b.port);
  t.equal((await handshake(w2, 'SCRAM-SHA-256')).error, ErrorCode.NONE);
  t.equal(await metadata(w2, 'sneaky'), null, 'Metadata mid-login: closed');
  t.notOk(b.context.topics.names().includes('sneaky'));

  // A big frame before login is refused before it is buffered (512 KiB, as Kafka's
  // sasl.server.max.receive.size); after login the broker's usual limit applies.
  const big = await Wire.open(t, b.port);
  big.raw(Buffer.alloc(600 * 1024));
  t.equal(await big.next(), null, '600 KiB frame before login: closed');
  t.match(logs.text(), /"reason":"request size 614400 exceeds the maximum of 524288 bytes"/);

  // SaslAuthenticate without a handshake: ILLEGAL_SASL_STATE, then closed.
  const w3 = await Wire.open(t, b.port);
  const a = await authenticate(w3, 1, Buffer.from('\0agent\0x'));
  t.equal(a?.error, ErrorCode.ILLEGAL_SASL_STATE, 'authenticate before handshake: ILLEGAL_SASL_STATE');
  await w3.closed;
  t.pass('then the connection is closed');
});

for (const version of [0, 1, 2]) {
  for (const [mech, hash] of [
    ['SCRAM-SHA-256', 'sha256'],
    ['SCRAM-SHA-512', 'sha512'],
  ] as const) {
    t.test(
      `${mech} over SaslAuthenticate v${version}: server signature checks out, then requests are served`,
      async (t) => {
        const { b, logs } = await saslBroker(t);
        const w = await Wire.open(t, b.port);
        const hs = await handshake(w, mech);
        t.equal(hs.error, ErrorCode.NONE);
        t.same(hs.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'], 'enabled mechanisms listed');
        // A user name with ',' and '=' exercises the saslname escaping.
        const c = scramClient(hash, 'a,b=c', PASSWORD);
        const first = await authenticate(w, version, c.first);
        t.equal(first?.error, ErrorCode.NONE, 'server-first');
        if (version >= 1) t.equal(first?.lifetime, 0n, 'session lifetime 0: no re-authentication');
        const last = await authenticate(w, version, c.final(first!.bytes.toString()));
        t.equal(last?.error, ErrorCode.NONE, 'client proof accepted');
        t.equal(last?.message, null);
        t.ok(c.serverSignatureOk(last!.bytes.toString()), 'server signature is the one the password implies');
        const md = await metadata(w, `t-${version}`);
        t.ok(md, 'Metadata served after login');
        t.match(logs.text(), new RegExp(`"user":"a,b=c","mechanism":"${mech}","msg":"SASL authenticated"`));
        // One login per connection: a second handshake is out of place.
        const again = await handshake(w, mech);
        t.equal(again.error, ErrorCode.ILLEGAL_SASL_STATE, 'second handshake: ILLEGAL_SASL_STATE');
        await w.closed;
      },
    );
  }
}

t.test('SCRAM refusals: wrong proof, nonce not ours, unknown user gets a salt too', async (t) => {
  const { b, logs } = await saslBroker(t);
  const login = async (user: string, tamper: (final: Buffer) => Buffer, proofPassword = PASSWORD) => {
    const w = await Wire.open(t, b.port);
    await handshake(w, 'SCRAM-SHA-256');
    const c = scramClient('sha256', user, PASSWORD);
    const first = await authenticate(w, 2, c.first);
    t.equal(first?.error, ErrorCode.NONE, `${user}: server-first is sent whether or not the user exists`);
    t.match(first!.bytes.toString(), /^r=[^,]+,s=[A-Za-z0-9+/=]+,i=4096$/);
    const last = await authenticate(w, 2, tamper(c.final(first!.bytes.toString(), proofPassword)));
    if (last?.error !== ErrorCode.NONE) await w.closed; // refused: closed after the answer
    return last;
  };
  const wrong = await login('agent', (f) => f, 'guess');
  t.equal(wrong?.error, ErrorCode.SASL_AUTHENTICATION_FAILED, 'wrong password refused');
  t.equal(wrong?.message, 'Authentication failed: invalid username or password');
  const unknown = await login('nobody', (f) => f);
  t.equal(unknown?.error, ErrorCode.SASL_AUTHENTICATION_FAILED, 'unknown user refused at the proof');
  t.equal(unknown?.message, wrong?.message, 'with the same words as a wrong password');
  const replay = await login('agent', (f) =>
    Buffer.from(f.toString().replace(/,r=[^,]+/, ',r=someone-elses-nonce')),
  );
  t.equal(replay?.error, ErrorCode.SASL_AUTHENTICATION_FAILED, 'a nonce that is not this exchange refused');
  t.match(replay?.message, /nonce does not match/);
  t.match(logs.text(), /"user":"nobody","mechanism":"SCRAM-SHA-256","reason":"unknown-user"/);
  t.match(logs.text(), /"user":"agent","mechanism":"SCRAM-SHA-256","reason":"bad-password"/);
});

t.test('v0 handshake: bare tokens follow (PLAIN and SCRAM), then requests are served', async (t) => {
  const { b } = await saslBroker(t);
  // PLAIN: one token, an empty token back.
  const p = await Wire.open(t, b.port);
  t.equal((await handshake(p, 'PLAIN', 0)).error, ErrorCode.NONE);
  p.raw(Buffer.from(`\0agent\0${PASSWORD}`));
  t.same(await p.next(), Buffer.alloc(0), 'PLAIN accepted: empty token back');
  t.ok(await metadata(p, 'v0-plain'), 'Metadata served');

  // SCRAM: two tokens each way.
  const s = await Wire.open(t, b.port);
  t.equal((await handshake(s, 'SCRAM-SHA-512', 0)).error, ErrorCode.NONE);
  const c = scramClient('sha512', 'agent', PASSWORD);
  s.raw(c.first);
  const serverFirst = (await s.next())!.toString();
  s.raw(c.final(serverFirst));
  t.ok(c.serverSignatureOk((await s.next())!.toString()), 'server-final verified');
  t.ok(await metadata(s, 'v0-scram'), 'Metadata served');

  // A refused bare token: v0 has no error field, the connection just closes.
  const bad = await Wire.open(t, b.port);
  await handshake(bad, 'PLAIN', 0);
  bad.raw(Buffer.from('\0agent\0wrong'));
  t.equal(await bad.next(), null, 'wrong PLAIN password: closed without an answer');
  // After a v0 handshake the next frame is a token, whatever it looks like: a SaslAuthenticate
  // request is taken as a (malformed) PLAIN token and refused.
  const mixed = await Wire.open(t, b.port);
  await handshake(mixed, 'PLAIN', 0);
  t.equal(await authenticate(mixed, 1, Buffer.from(`\0agent\0${PASSWORD}`)), null, 'closed, no answer');
});

t.test(
  'malformed tokens: SASL_AUTHENTICATION_FAILED and a closed connection, the broker carries on',
  async (t) => {
    const { b } = await saslBroker(t);
    const cases: [string, Buffer][] = [
      ['SCRAM-SHA-256', Buffer.from('garbage')],
      ['SCRAM-SHA-256', Buffer.from('p=tls-unique,,n=agent,r=abc')],
      ['SCRAM-SHA-256', Buffer.from('n,,n=ag=ZZent,r=abc')],
      ['SCRAM-SHA-256', Buffer.from('n,,m=ext,n=agent,r=abc')],
      ['SCRAM-SHA-512', Buffer.from('n,a=other,n=agent,r=abc')],
      ['SCRAM-SHA-512', randomBytes(300)],
      ['SCRAM-SHA-512', Buffer.alloc(0)],
      ['PLAIN', Buffer.from('agent-only')],
      ['PLAIN', Buffer.from('\0\0')],
      ['PLAIN', Buffer.from(`other\0agent\0${PASSWORD}`)],
      ['PLAIN', randomBytes(64)],
    ];
    for (const [mech, token] of cases) {
      const w = await Wire.open(t, b.port);
      await handshake(w, mech);
      const a = await authenticate(w, 1, token);
      t.equal(
        a?.error,
        ErrorCode.SASL_AUTHENTICATION_FAILED,
        `${mech} ${JSON.stringify(token.toString('latin1').slice(0, 30))}: refused`,
      );
      await w.closed;
    }
    // A SCRAM final message that is not one.
    const w = await Wire.open(t, b.port);
    await handshake(w, 'SCRAM-SHA-256');
    await authenticate(w, 1, scramClient('sha256', 'agent', PASSWORD).first);
    const a = await authenticate(w, 1, Buffer.from('c=biws,r=x'));
    t.equal(a?.error, ErrorCode.SASL_AUTHENTICATION_FAILED, 'final without proof refused');
    await w.closed;
    // And a well-behaved client still gets in.
    const ok = await Wire.open(t, b.port);
    await handshake(ok, 'PLAIN');
    t.equal(
      (await authenticate(ok, 2, Buffer.from(`agent\0agent\0${PASSWORD}`)))?.error,
      ErrorCode.NONE,
      'authzid = user is fine',
    );
    t.ok(await metadata(ok, 'after-junk'), 'served');
  },
);
