// The group supervisor against a broker that accepts connections and never answers: a real
// failure (a hung broker process, a half-dead proxy or network path) in which kafkajs waits on
// each request for as long as its request timeout, here 10 minutes, so that only the supervisor's
// own bounds can end the wait within the test. kafkajs's disconnect() waits for the requests in
// flight too, so an abandoned consumer's socket stays open until then; the supervisor must not
// wait for it.
import { connect, createServer, type Socket } from 'node:net';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { superviseGroup } from '../ingest/consumer/supervisor.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { encodeFix } from '../shared/fixcodec.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import { makeFix } from './helpers/ingest-backends.js';
import { waitFor } from './helpers/ingest-kafka.js';

/**
 * A TCP front for a broker. Forwarding (once forwardTo(port) was called), or silent: it takes
 * every connection and never passes a byte either way. A connection that was silenced stays
 * silent (bytes were dropped, so its stream is out of step for good); resume() affects new ones.
 */
async function brokerFront(t: Test) {
  const open = new Set<Socket>();
  let accepted = 0;
  let upstreamPort: number | undefined;
  let silent = false;
  const silenced = new Set<Socket>();
  const server = createServer((client) => {
    accepted++;
    open.add(client);
    client.on('error', () => undefined);
    client.on('close', () => open.delete(client));
    if (silent || upstreamPort === undefined) return;
    const up = connect(upstreamPort, '127.0.0.1');
    open.add(up);
    up.on('error', () => client.destroy());
    up.on('close', () => {
      open.delete(up);
      client.destroy();
    });
    client.on('close', () => up.destroy());
    client.on('data', (d) => (silenced.has(client) ? undefined : up.write(d)));
    up.on('data', (d) => (silenced.has(client) ? undefined : client.write(d)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    accepted: () => accepted,
    forwardTo(port: number) {
      upstreamPort = port;
    },
    silence() {
      silent = true;
      for (const s of open) silenced.add(s);
    },
    resume() {
      silent = false;
    },
  };
}

function memoryLog() {
  const lines: { msg?: string; reason?: string; why?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, says: (msg: string) => lines.filter((l) => l.msg === msg) };
}

const metrics = createIngestMetrics();

t.test('a consumer that cannot start is abandoned after stallMs and replaced; stop() settles', async (t) => {
  const broker = await brokerFront(t);
  const kafka = kafkaClient({
    clientId: 'stall-test',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
    requestTimeout: 600_000,
  });
  const stallMs = 800;
  let sinkStopped = 0;
  const sup = superviseGroup({
    kafka,
    groupId: 'stall-test',
    topic: 'gps.fixes',
    sink: { handleBatch: async () => undefined, stopped: () => void sinkStopped++ },
    flushRows: 100,
    flushMs: 50,
    metrics,
    log: memoryLog().log,
    stallMs,
    retryMs: { first: 50, max: 100 },
    onFatal: (e) => t.fail(`gave up: ${e.message}`),
  });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : sup.stop()));

  await waitFor(() => (sup.replacements() >= 2 ? true : undefined), 50);
  const s = sup.state();
  t.equal(s.live, false, 'not live');
  t.match(s.why, `did not start (connect, subscribe, first join) within ${stallMs} ms`, 'says why');
  t.ok(broker.accepted() >= 2, `each replacement connected anew (${broker.accepted()} connections)`);

  // stop() while a start is in flight: it abandons that start rather than waiting for it.
  const inFlight = broker.accepted();
  await waitFor(() => (broker.accepted() > inFlight ? true : undefined), 10);
  t.equal(sinkStopped, 0, 'the sink is not told of a replacement');
  await sup.stop();
  stopped = true;
  t.pass('stop() settled with a start in flight');
  t.equal(sinkStopped, 1, 'the sink is told the group stopped, once');
});

t.test(
  'a joined consumer whose broker stops answering is reported down, replaced, and consumes again',
  async (t) => {
    // The broker advertises the front's port, so every connection kafkajs makes goes through it.
    const front = await brokerFront(t);
    const broker = await inProcessBroker(t, {
      advertisedPort: front.port,
      groups: { minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 50 },
    });
    front.forwardTo(broker.port);
    const producer = kafkaClient({
      clientId: 'producer',
      brokers: [broker.address],
      logLevel: logLevel.NOTHING,
    });
    const admin = producer.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'gps.fixes', numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    // Produced straight to the broker's own port: only the consumer's path goes silent.
    const send = async (seq: number) => {
      const p = producer.producer();
      await p.connect();
      await p.send({
        topic: 'gps.fixes',
        acks: -1,
        messages: [{ key: 'rider-1', value: encodeFix(makeFix('rider-1', seq)) }],
      });
      await p.disconnect();
    };

    const stored: number[] = [];
    const { log, says } = memoryLog();
    const sessionTimeoutMs = 2000;
    const stallMs = 1500;
    const stopMs = 500;
    const sup = superviseGroup({
      kafka: kafkaClient({
        clientId: 'stall-test',
        brokers: [front.address],
        logLevel: logLevel.NOTHING,
        requestTimeout: 600_000,
      }),
      groupId: 'silent-later',
      topic: 'gps.fixes',
      sink: {
        handleBatch: async (fixes) => {
          stored.push(...fixes.map((f) => f.seq));
        },
      },
      flushRows: 100,
      flushMs: 20,
      metrics,
      log,
      sessionTimeoutMs,
      heartbeatIntervalMs: 200,
      stallMs,
      stopMs,
      retryMs: { first: 50, max: 100 },
      onFatal: (e) => t.fail(`gave up: ${e.message}`),
    });
    let stopped = false;
    t.teardown(() => (stopped ? undefined : sup.stop()));

    await send(1);
    await waitFor(() => (stored.includes(1) ? true : undefined), 20);
    t.equal(sup.state().live, true, 'joined and consuming');

    front.silence();
    const down = await waitFor(() => {
      const s = sup.state();
      return s.live ? undefined : s;
    }, 20);
    t.match(down.why, 'no heartbeat answered within the session timeout', 'reported down, and why');
    await waitFor(() => (sup.replacements() >= 1 ? true : undefined), 20);
    t.match(
      says('consumer down; starting a new one')[0]?.reason ?? '',
      `not live for ${stallMs} ms (no heartbeat answered`,
      'the watchdog replaced it',
    );
    t.match(
      says('abandoning the old consumer')[0]?.reason ?? '',
      `old consumer did not stop within ${stopMs} ms`,
      'its stop hung on the silent broker and was abandoned',
    );

    // The path answers again (for new connections): a fresh consumer joins and consumes.
    front.resume();
    await send(2);
    await waitFor(() => (stored.includes(2) ? true : undefined), 20);
    t.equal(sup.state().live, true, 'live again');
    await sup.stop();
    stopped = true;
    t.pass('stop() settled');
  },
);
