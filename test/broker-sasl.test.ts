// kafkajs against the broker with SASL on: with each mechanism a producer and a consumer group
// work end to end; a wrong password, an unknown user and a mechanism the listener does not offer
// are refused with a clear error and leave nothing behind; the broker's log says who and why but
// never carries a password.
import type { SASLOptions } from 'kafkajs';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import type { SaslMechanism } from '../broker/protocol/sasl/mechanism.js';
import { SaslUsers } from '../broker/protocol/sasl/users.js';
import { inProcessBroker, kafka } from './helpers/broker-harness.js';

const PASSWORD = 'rider-fleet-s3cret';
const WRONG = 'not-the-password-42';

/** A broker logger whose lines the test can read (debug: everything the broker would say). */
function capturedLog() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
  return { log, text: () => lines.join('') };
}

async function saslBroker(
  t: Test,
  mechanisms: SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
) {
  const logs = capturedLog();
  const users = new SaslUsers().addPassword('agent', PASSWORD);
  const b = await inProcessBroker(t, { logger: logs.log, defaultPartitions: 2, sasl: { mechanisms, users } });
  return { b, logs };
}

type Mechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
const sasl = (mechanism: Mechanism, username: string, password: string) =>
  ({ mechanism, username, password }) as SASLOptions;

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
  t.test(`${mechanism}: a producer and a consumer group work with good credentials`, async (t) => {
    const { b, logs } = await saslBroker(t);
    const client = kafka(b.address, `sasl-${mechanism}`, sasl(mechanism, 'agent', PASSWORD));
    const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const sent = Array.from({ length: 20 }, (_, i) => `fix-${i}`);
    await producer.send({
      topic: 'fixes',
      acks: -1,
      messages: sent.map((value, i) => ({ key: `dev-${i % 4}`, value })),
    });

    const consumer = client.consumer({ groupId: `g-${mechanism}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    t.teardown(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'fixes', fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(message.value!.toString());
            if (got.length === sent.length) resolve();
          },
        })
        .catch(reject);
    });
    t.same(got.sort(), [...sent].sort(), 'every record read back once through the group');

    const upper = mechanism.toUpperCase();
    t.match(logs.text(), new RegExp(`"user":"agent","mechanism":"${upper}","msg":"SASL authenticated"`));
    t.notMatch(
      logs.text(),
      /request before SASL authentication/,
      'kafkajs never sent a request before logging in',
    );
    t.notOk(logs.text().includes(PASSWORD), 'the password is nowhere in the broker log');
  });
}

t.test('after login the usual request size applies (before it, 512 KiB)', async (t) => {
  const { b } = await saslBroker(t);
  const producer = kafka(b.address, 'big', sasl('scram-sha-256', 'agent', PASSWORD)).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  // One partition, one batch of 8 x 100 KiB: an 800 KiB Produce request.
  const value = Buffer.alloc(100 * 1024, 7);
  await producer.send({
    topic: 'big',
    acks: -1,
    messages: Array.from({ length: 8 }, () => ({ key: 'k', value })),
  });
  const admin = kafka(b.address, 'big-admin', sasl('scram-sha-256', 'agent', PASSWORD)).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('big');
  await admin.disconnect();
  t.equal(
    offsets.reduce((n, o) => n + Number(o.high), 0),
    8,
    'the 800 KiB request was served: 8 records stored',
  );
});

t.test('refused: wrong password, unknown user (each mechanism); nothing acted on', async (t) => {
  const { b, logs } = await saslBroker(t);
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    for (const [user, password, reason] of [
      ['agent', WRONG, 'bad-password'],
      ['mallory', PASSWORD, 'unknown-user'],
    ] as const) {
      const producer = kafka(b.address, 'refused', sasl(mechanism, user, password)).producer();
      const err = await producer.connect().then(
        () => null,
        (e: Error) => e,
      );
      t.equal(err?.name, 'KafkaJSSASLAuthenticationError', `${mechanism} ${user}: refused`);
      t.match(
        err?.message,
        /authentication failed: Authentication failed: invalid username or password/,
        `${mechanism} ${user}: says why, without telling which part was wrong`,
      );
      await producer.disconnect();
      t.match(
        logs.text(),
        new RegExp(`"user":"${user}","mechanism":"${mechanism.toUpperCase()}","reason":"${reason}"`),
        `${mechanism} ${user}: the broker log names the user and the reason (${reason})`,
      );
    }
  }
  t.notOk(logs.text().includes(WRONG), 'the wrong password is nowhere in the broker log');
  t.notOk(logs.text().includes(PASSWORD), 'nor the right one');
  t.same(b.context.topics.names(), [], 'no request was served: nothing auto-created');
});

t.test('a mechanism the listener does not offer is refused by the handshake', async (t) => {
  const { b, logs } = await saslBroker(t, ['SCRAM-SHA-512']);
  const producer = kafka(b.address, 'wrong-mech', sasl('plain', 'agent', PASSWORD)).producer();
  const err = await producer.connect().then(
    () => null,
    (e: Error) => e,
  );
  t.match(err?.message, /does not support the requested SASL mechanism/, `clear error: ${err?.message}`);
  await producer.disconnect();
  t.match(logs.text(), /"mechanism":"PLAIN","enabled":\["SCRAM-SHA-512"\],"msg":"SASL mechanism not enabled/);

  // The one offered still works on the same broker.
  const ok = kafka(b.address, 'right-mech', sasl('scram-sha-512', 'agent', PASSWORD)).producer();
  await ok.connect();
  await ok.send({ topic: 'after', messages: [{ value: 'x' }] });
  await ok.disconnect();
  t.same(b.context.topics.names(), ['after'], 'only the logged-in client got anything done');
});

t.test('a client without SASL gets no service from a SASL broker', async (t) => {
  const { b, logs } = await saslBroker(t);
  const producer = kafka(b.address, 'no-sasl').producer();
  // connect() only asks ApiVersions, which is served before login; the send's Metadata is not.
  await producer.connect();
  const err = await producer.send({ topic: 'sneaky', messages: [{ value: 'x' }] }).then(
    () => null,
    (e: Error) => e,
  );
  t.ok(err, `the send fails: ${err?.message}`);
  await producer.disconnect();
  t.match(logs.text(), /"api":"Metadata".*"msg":"request before SASL authentication; closing connection"/);
  t.same(b.context.topics.names(), [], 'nothing served');
});

t.test('a SASL client against a broker without SASL: a clear error, not a hang', async (t) => {
  const b = await inProcessBroker(t);
  const producer = kafka(b.address, 'sasl-to-plain', sasl('scram-sha-256', 'agent', PASSWORD)).producer();
  const err = await producer.connect().then(
    () => null,
    (e: Error) => e,
  );
  t.match(err?.message, /not valid given the current SASL state/, `clear error: ${err?.message}`);
  await producer.disconnect();
});
