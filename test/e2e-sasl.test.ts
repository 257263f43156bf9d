// The production SASL settings end to end: the agent and the ingest log in to the broker from
// their KAFKA_SASL_* variables (through shared/kafka.ts, as in production), each with its own
// user and mechanism, and every fix goes agent -> broker -> ingest database exactly once. An
// agent with a wrong password is refused by the broker and keeps every fix in its outbox.
// Then SASL_SSL: PLAIN inside TLS, with socat terminating TLS in front of the broker as in
// e2e-tls.test.ts (the embedded broker speaks plaintext only).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { childBroker } from './helpers/broker-harness.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { makePki, tlsProxy } from './helpers/pki.js';
import { eventually, freePort, settleAndCheck, withStack } from './helpers/stack.js';

const EPOCHS = 40;
const AGENT_PASSWORD = 'agent-e2e-pw-8812';
const INGEST_PASSWORD = 'ingest-e2e-pw-3307';

function usersFile(dir: string): string {
  const p = join(dir, 'sasl-users.json');
  writeFileSync(
    p,
    JSON.stringify({ users: { agent: { password: AGENT_PASSWORD }, ingest: { password: INGEST_PASSWORD } } }),
  );
  return p;
}

const saslEnv = (mechanism: string, username: string, password: string) => ({
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: username,
  KAFKA_SASL_PASSWORD: password,
});

t.test('agent (SCRAM-SHA-512) -> SASL broker -> ingest (SCRAM-SHA-256): every fix once', (t) =>
  withStack(t, async (stack) => {
    const broker = await childBroker(t, join(stack.dir, 'broker'), [
      '--sasl-users',
      usersFile(stack.dir),
      '--default-partitions',
      '4',
    ]);
    stack.brokerPort = broker.port;
    await stack.startIngest('ingest', {
      INGEST_HTTP: 'false',
      ...saslEnv('scram-sha-256', 'ingest', INGEST_PASSWORD),
    });

    const track = join(stack.dir, 'track.nmea');
    writeNmeaTrack(track, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 12, 0, 0) });
    stack.startAgent('sasl-rider', {
      file: track,
      speed: 0,
      env: saslEnv('scram-sha-512', 'agent', AGENT_PASSWORD),
    });
    t.equal(await stack.exited('agent-sasl-rider'), 0, 'the agent sent everything and finished');
    await settleAndCheck(t, stack, ['sasl-rider']);
    t.equal(stack.storedSeqs('sasl-rider').length, EPOCHS, `all ${EPOCHS} fixes in the database`);
    t.match(broker.output(), /"user":"agent","mechanism":"SCRAM-SHA-512","msg":"SASL authenticated"/);
    t.match(broker.output(), /"user":"ingest","mechanism":"SCRAM-SHA-256","msg":"SASL authenticated"/);

    // A wrong password: refused at every attempt, nothing leaves the outbox.
    stack.startAgent('bad-rider', {
      file: track,
      speed: 0,
      env: saslEnv('scram-sha-512', 'agent', 'not-the-agent-password'),
    });
    t.ok(
      await eventually(
        () => /"user":"agent","mechanism":"SCRAM-SHA-512","reason":"bad-password"/.test(broker.output()),
        60_000,
      ),
      'the broker refused the agent with the wrong password',
    );
    t.ok(
      await eventually(() => stack.outbox('bad-rider').generated === EPOCHS, 60_000),
      'that agent stored its fixes',
    );
    t.ok(stack.running('agent-bad-rider'), 'and is still running (retrying)');
    await stack.kill('agent-bad-rider', 'SIGTERM');
    t.equal(stack.outbox('bad-rider').pending, EPOCHS, 'every fix is still in its outbox');
    t.same(stack.storedSeqs('bad-rider'), [], 'none reached the database');

    await stack.stopAll();
    t.equal(await broker.stop(), 0, 'broker stops cleanly');
    const out = broker.output();
    t.notOk(
      out.includes(AGENT_PASSWORD) || out.includes(INGEST_PASSWORD) || out.includes('not-the-agent-password'),
      'no password in the broker log',
    );
  }),
);

t.test('SASL_SSL: PLAIN inside TLS, agent -> broker -> ingest', (t) =>
  withStack(t, async (stack) => {
    // No client certificates: SASL says who.
    const pki = makePki(stack.dir, { caName: 'sasl test CA' });
    const tlsPort = await freePort();
    // The broker advertises the TLS port, so every connection the clients make goes through TLS.
    const broker = await childBroker(t, join(stack.dir, 'broker'), [
      '--sasl-users',
      usersFile(stack.dir),
      '--default-partitions',
      '4',
      '--advertised-port',
      String(tlsPort),
    ]);
    await tlsProxy(t, { port: tlsPort, to: broker.port, pki });
    stack.brokerPort = tlsPort;
    const tls = { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: pki.ca };
    await stack.startIngest('ingest', {
      INGEST_HTTP: 'false',
      ...tls,
      ...saslEnv('plain', 'ingest', INGEST_PASSWORD),
    });
    const track = join(stack.dir, 'track.nmea');
    writeNmeaTrack(track, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 13, 0, 0) });
    stack.startAgent('ssl-rider', {
      file: track,
      speed: 0,
      env: { ...tls, ...saslEnv('plain', 'agent', AGENT_PASSWORD) },
    });
    t.equal(await stack.exited('agent-ssl-rider'), 0, 'the agent sent everything over SASL_SSL and finished');
    await settleAndCheck(t, stack, ['ssl-rider']);
    t.match(broker.output(), /"user":"agent","mechanism":"PLAIN","msg":"SASL authenticated"/);
    t.match(broker.output(), /"user":"ingest","mechanism":"PLAIN","msg":"SASL authenticated"/);
    await stack.stopAll();
  }),
);
