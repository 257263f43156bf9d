// shared/kafka-client.ts takes kafkajs 2.2.4's idle 1 kHz timer loop out of its request queue.
// Checked here: the patch is in place (a kafkajs upgrade that changes the queue fails the first
// test, so that someone looks at the patch again), an idle connection no longer wakes the process
// a thousand times a second, and requests that must wait in the queue (for an in-flight slot, or
// for a throttle the broker asked for) are still sent.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { logLevel } from 'kafkajs';
import ConsumerGroupModule from 'kafkajs/src/consumer/consumerGroup.js';
import RequestQueueModule from 'kafkajs/src/network/requestQueue/index.js';
import t, { type Test } from 'tap';
import { buildAgent } from '../agent/build.js';
import { heartbeatClockPatched, kafkaClient, requestQueuePatched } from '../shared/kafka-client.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import { waitFor } from './helpers/ingest-kafka.js';
import { sleep } from './helpers/stack.js';

const run = promisify(execFile);

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

// The classes kafka-client.ts patches, from the same modules kafkajs itself loads.
const QueueClass = RequestQueueModule as unknown as { prototype: Queue };

/** Counts calls of the queue's check, on every kafkajs connection in this process. */
function countChecks(t: Test): { readonly calls: number } {
  const proto = QueueClass.prototype;
  const original = proto.checkPendingRequests;
  const counter = { calls: 0 };
  proto.checkPendingRequests = function (this: Queue) {
    counter.calls++;
    return original.call(this);
  };
  t.teardown(() => {
    proto.checkPendingRequests = original;
  });
  return counter;
}

t.test('the request queue kafkajs loads is the patched one', async (t) => {
  t.equal(
    requestQueuePatched,
    true,
    'kafkajs request queue still looks like 2.2.4 (else re-check the patch)',
  );
  t.notOk(
    String(QueueClass.prototype.scheduleCheckPendingRequests).includes('CHECK_PENDING_REQUESTS_INTERVAL'),
    "kafkajs's own scheduler is replaced",
  );
});

t.test("the consumer's heartbeat clock is the monotonic one", async (t) => {
  t.equal(
    heartbeatClockPatched,
    true,
    'kafkajs consumer group still looks like 2.2.4 (else re-check the patch)',
  );
  // kafkajs reads lastRequest back as a wall-clock moment: what was set, as long as the wall
  // clock did not step in between (test/ingest-clock-step.test.ts steps it under a real ingest).
  const group = Object.create(ConsumerGroupModule.prototype) as { lastRequest: number };
  const set = Date.now() - 5000;
  group.lastRequest = set;
  t.ok(Math.abs(group.lastRequest - set) < 1000, 'lastRequest reads back what was set');
  t.notOk(Object.hasOwn(group, 'lastRequest'), 'kept by the accessor, not as an own property');
});

t.test('an idle connection arms no timer and runs no check', async (t) => {
  const broker = await inProcessBroker(t);
  const admin = kafkaClient({
    clientId: 'idle',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'idle', numPartitions: 1 }], waitForLeaders: true });
  t.ok((await admin.fetchTopicMetadata({ topics: ['idle'] })).topics.length, 'the connection works');

  const checks = countChecks(t);
  // Unpatched, each open connection runs the check about once a millisecond: hundreds here.
  await sleep(500);
  t.ok(checks.calls < 10, `idle for 500 ms: ${checks.calls} checks (kafkajs 2.2.4 unpatched: hundreds)`);
  t.ok((await admin.fetchTopicMetadata({ topics: ['idle'] })).topics.length, 'and it still answers after');
});

t.test('requests waiting for an in-flight slot are all sent', async (t) => {
  const broker = await inProcessBroker(t);
  const kafka = kafkaClient({ clientId: 'queued', brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'queued', numPartitions: 1 }], waitForLeaders: true });
  // One request at a time per connection: the 199 others wait in the queue's pending list.
  const producer = kafka.producer({ maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const sends = Array.from({ length: 200 }, (_, i) =>
    producer.send({ topic: 'queued', messages: [{ key: 'd', value: String(i) }] }),
  );
  const results = await Promise.all(sends);
  t.equal(results.length, 200, 'every queued send resolved');
  const offsets = await admin.fetchTopicOffsets('queued');
  t.equal(offsets[0]?.high, '200', 'and every message is in the log');
});

t.test('a request held by a throttle is checked again when the throttle ends', async (t) => {
  const checked: number[] = [];
  const queue: Queue = {
    pending: [],
    throttledUntil: -1,
    throttleCheckTimeoutId: null,
    checkPendingRequests() {
      checked.push(Date.now());
    },
    scheduleCheckPendingRequests: QueueClass.prototype.scheduleCheckPendingRequests,
  };
  queue.scheduleCheckPendingRequests();
  t.equal(queue.throttleCheckTimeoutId, null, 'nothing pending: no timer');

  queue.throttledUntil = Date.now() + 60;
  queue.scheduleCheckPendingRequests();
  t.equal(queue.throttleCheckTimeoutId, null, 'throttled but nothing pending: still no timer');

  queue.pending.push({});
  const armedAt = Date.now();
  queue.scheduleCheckPendingRequests();
  t.ok(queue.throttleCheckTimeoutId, 'a pending request under a throttle arms the timer');
  const first = queue.throttleCheckTimeoutId;
  queue.scheduleCheckPendingRequests();
  t.equal(queue.throttleCheckTimeoutId, first, 'one timer, not one per call');
  await waitFor(() => (checked.length > 0 ? true : undefined));
  await sleep(20);
  t.equal(checked.length, 1, 'the check ran once');
  t.ok((checked[0] ?? 0) >= armedAt + 50, 'not before the throttle ends');
  t.equal(queue.throttleCheckTimeoutId, null, 'and the timer is cleared for the next one');

  queue.throttledUntil = -1;
  queue.scheduleCheckPendingRequests();
  t.ok(queue.throttleCheckTimeoutId, 'pending without a throttle: the kafkajs retry timer');
  await waitFor(() => (checked.length > 1 ? true : undefined));
  t.equal(checked.length, 2, 'which runs the check');
});

t.test('the idle loop is gone from sources and from the bundle the agent service runs', async (t) => {
  const broker = await inProcessBroker(t);
  const dir = mkdtempSync(join(tmpdir(), 'kafka-client-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const probe = join(import.meta.dirname, 'helpers/kafka-idle-probe.ts');
  // Bundled, kafkajs is inlined: a patch that found its class at run time would patch a copy from
  // node_modules and leave the bundle's own queue looping.
  const bundle = await buildAgent(join(dir, 'probe.mjs'), probe);
  const runs = {
    sources: ['--import', 'tsx', probe],
    bundle: [bundle],
  };
  for (const [name, args] of Object.entries(runs)) {
    const { stdout } = await run(process.execPath, [...args, broker.address], { timeout: 60_000 });
    const r = JSON.parse(stdout) as { patched: boolean; shortTimers: number };
    t.equal(r.patched, true, `${name}: the queue is patched`);
    // Unpatched, each connection re-arms a 1 ms timer: hundreds in 500 ms.
    t.ok(r.shortTimers < 10, `${name}: ${r.shortTimers} short timers armed in 500 ms idle`);
  }
});
