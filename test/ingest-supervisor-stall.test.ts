// The group supervisor against a broker that accepts connections and never answers: a real
// failure (a hung broker process, a half-dead proxy) in which kafkajs waits on each request for
// as long as its request timeout, here set to 10 minutes so that only the supervisor's own bound
// can end the wait within the test. Starting a consumer must be given up after stallMs and a
// fresh one tried, and stop() must settle at once.
import { createServer, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import t, { type Test } from 'tap';
import { superviseGroup } from '../ingest/consumer/supervisor.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { createLogger } from '../shared/log.js';
import { waitFor } from './helpers/ingest-kafka.js';

/** A TCP server that takes every connection and never writes a byte. */
async function silentBroker(t: Test) {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((sock) => {
    accepted++;
    open.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => open.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    accepted: () => accepted,
  };
}

t.test('a consumer that cannot start is abandoned after stallMs and replaced; stop() settles', async (t) => {
  const broker = await silentBroker(t);
  const kafka = new Kafka({
    clientId: 'stall-test',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
    requestTimeout: 600_000,
  });
  const stallMs = 800;
  const sup = superviseGroup({
    kafka,
    groupId: 'stall-test',
    topic: 'gps.fixes',
    sink: { handleBatch: async () => undefined },
    flushRows: 100,
    flushMs: 50,
    metrics: createIngestMetrics(),
    log: createLogger('stall-test', 'silent'),
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
  await sup.stop();
  stopped = true;
  t.pass('stop() settled with a start in flight');
  // (The abandoned consumers' sockets stay open until kafkajs's request timeout: its disconnect()
  // waits for the requests in flight, which is why the supervisor cannot wait for it.)
});
