// librdkafka (kcat) against the broker with SASL on: security.protocol=SASL_PLAINTEXT with each
// mechanism produces and consumes; a wrong password and a mechanism the listener does not offer
// fail with librdkafka's authentication error, and nothing reaches the topic.
import t from 'tap';
import { SaslUsers } from '../broker/protocol/sasl/users.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import { runCommand } from './helpers/run.js';

const PASSWORD = 'kcat-s3cret';

/** kcat, asynchronously (the broker runs in this process: a sync spawn would starve it). */
const kcat = (args: string[], input?: string) => runCommand('kcat', args, { input });

const saslArgs = (address: string, mechanism: string, password = PASSWORD) => [
  '-b',
  address,
  '-X',
  'security.protocol=SASL_PLAINTEXT',
  '-X',
  `sasl.mechanisms=${mechanism}`,
  '-X',
  'sasl.username=rider',
  '-X',
  `sasl.password=${password}`,
];

t.test('kcat produces and consumes with each mechanism', async (t) => {
  const b = await inProcessBroker(t, {
    defaultPartitions: 1,
    sasl: {
      mechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
      users: new SaslUsers().addPassword('rider', PASSWORD),
    },
  });
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const topic = `kc-${mechanism.toLowerCase()}`;
    const lines = Array.from({ length: 50 }, (_, i) => `${mechanism}-${i}`);
    const p = await kcat(
      [...saslArgs(b.address, mechanism), '-P', '-t', topic, '-X', 'enable.idempotence=true'],
      `${lines.join('\n')}\n`,
    );
    t.equal(p.code, 0, `${mechanism}: kcat -P exits 0 ${p.stderr}`);
    const c = await kcat([
      ...saslArgs(b.address, mechanism),
      '-C',
      '-t',
      topic,
      '-e',
      '-o',
      'beginning',
      '-q',
    ]);
    t.equal(c.code, 0, `${mechanism}: kcat -C exits 0 ${c.stderr}`);
    t.same(c.stdout.split('\n').filter(Boolean), lines, `${mechanism}: all 50 read back in order`);
  }
});

t.test('kcat with a wrong password or an unoffered mechanism is refused', async (t) => {
  const b = await inProcessBroker(t, {
    sasl: { mechanisms: ['SCRAM-SHA-512'], users: new SaslUsers().addPassword('rider', PASSWORD) },
  });
  const wrong = await kcat([...saslArgs(b.address, 'SCRAM-SHA-512', 'guess'), '-P', '-t', 'nope'], 'x\n');
  t.not(wrong.code, 0, 'wrong password: kcat fails');
  t.match(wrong.stderr, /SASL authentication error: Authentication failed: invalid username or password/);
  const mech = await kcat([...saslArgs(b.address, 'PLAIN'), '-P', '-t', 'nope'], 'x\n');
  t.not(mech.code, 0, 'PLAIN on a SCRAM-SHA-512 listener: kcat fails');
  t.match(
    mech.stderr,
    /SASL.*(mechanism|PLAIN).*(not supported|enabled|unsupported)/i,
    'names the mechanism problem',
  );
  t.notOk(b.context.topics.names().includes('nope'), 'nothing reached the broker');
});
