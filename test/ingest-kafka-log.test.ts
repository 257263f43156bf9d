// The ingest's kafkajs log lines through a real rebalance: a second member joining a group makes
// the broker answer the first member's heartbeat REBALANCE_IN_PROGRESS, which kafkajs logs at
// ERROR. That is a group working as designed, so it must not be an error line in the ingest's log;
// a real failure (a refused connection) still is.
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import t from 'tap';
import { kafkaLogCreator } from '../ingest/consumer/kafka-log.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import { waitFor } from './helpers/ingest-kafka.js';
import { freePort } from './helpers/stack.js';

interface Line {
  level: number;
  msg: string;
  error?: string;
}

function capture() {
  const lines: Line[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, log: pino({ level: 'debug' }, out) };
}

// As ingest/app.ts makes its client: kafkajs at WARN, through our creator.
const client = (brokers: string[], log: pino.Logger) =>
  kafkaClient({
    clientId: 'kafka-log-test',
    brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(log),
    retry: { retries: 1, initialRetryTime: 100 },
  });

t.test('a member joining: the others re-join with one info line, no error lines', async (t) => {
  const broker = await inProcessBroker(t);
  const { lines, log } = capture();
  const kafka = client([broker.address], log);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'rb', numPartitions: 4 }], waitForLeaders: true });
  await admin.disconnect();

  const joins = [0, 0];
  const members = [0, 1].map((i) => {
    const c = kafka.consumer({ groupId: 'rb-group', sessionTimeout: 6000, heartbeatInterval: 100 });
    c.on(c.events.GROUP_JOIN, () => joins[i]!++);
    t.teardown(() => c.disconnect());
    return c;
  });
  const run = async (i: number) => {
    await members[i]!.connect();
    await members[i]!.subscribe({ topic: 'rb', fromBeginning: true });
    await members[i]!.run({ eachMessage: async () => {} });
  };
  await run(0);
  t.ok(await waitFor(() => (joins[0]! >= 1 ? true : undefined), 30), 'the first member joined');
  await run(1);
  t.ok(
    await waitFor(() => (joins[0]! >= 2 && joins[1]! >= 1 ? true : undefined), 30),
    'both members joined the new generation',
  );

  const rebalance = lines.filter((l) => /rebalancing/.test(`${l.msg} ${l.error ?? ''}`));
  t.ok(rebalance.length >= 1, `kafkajs announced the rebalance (${rebalance.length} lines)`);
  const levels = JSON.stringify(rebalance.map((l) => [l.level, l.msg]));
  t.ok(
    rebalance.some((l) => l.level === 30 && /re-joining/.test(l.msg)),
    `the re-join at info: ${levels}`,
  );
  t.ok(
    rebalance.every((l) => l.level === 30 || l.level === 20),
    `the rest at debug: ${levels}`,
  );
  t.same(
    lines.filter((l) => l.level >= 50),
    [],
    'no error lines from a normal rebalance',
  );
});

t.test('a real failure keeps its level: nothing listening is an error line', async (t) => {
  const { lines, log } = capture();
  const admin = client([`127.0.0.1:${await freePort()}`], log).admin();
  await t.rejects(admin.connect());
  t.ok(
    lines.some((l) => l.level === 50 && /ECONNREFUSED|Connection error/i.test(`${l.msg} ${l.error ?? ''}`)),
    `the refused connection is an error: ${JSON.stringify(lines.map((l) => [l.level, l.msg]))}`,
  );
});
