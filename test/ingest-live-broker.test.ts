// The `live` consumer group end to end: fixes produced with kafkajs to the real embedded broker,
// consumed by the real runner into the live view, pushed to an SSE client. A backlog produced
// after newer fixes never moves the rider back; a bad record on the partition does not stall it.
// The group runs with the live settings of the ingest (live/group-options.ts): offsets are still
// committed, once a second instead of after every batch.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runGroup } from '../ingest/consumer/runner.js';
import { startHttpServer } from '../ingest/http/server.js';
import { liveGroupOptions } from '../ingest/live/group-options.js';
import type { Fix } from '../shared/fix.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';
import { fix, TOKEN, webFixture } from './helpers/ingest-web.js';
import { openSse } from './helpers/sse-client.js';

const TOPIC = 'gps.fixes';

t.test('live group: broker -> runner -> live view -> SSE, newest by GNSS time', async (t) => {
  const k = await startTestBroker();
  const f = await webFixture();
  const srv = await startHttpServer(f.deps);
  await k.createTopic(TOPIC, 3);
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'live',
    topic: TOPIC,
    sink: f.live,
    ...liveGroupOptions({ flushRows: 20_000 }),
    metrics: f.metrics,
    log: createLogger('test', 'silent'),
  });
  t.teardown(async () => {
    await group.stop();
    await srv.app.close();
    await k.stop();
    await f.cleanup();
  });
  const client = await openSse(`${srv.url}/api/devices/rider-1/live?token=${TOKEN}`);
  const seqs = () =>
    client.events.filter((e) => e.event === 'fix').map((e) => (JSON.parse(e.data) as Fix).seq);
  const base = Date.UTC(2026, 10, 25, 9);
  const send = (fixes: Fix[]) =>
    k.producer.send({ topic: TOPIC, messages: fixes.map((x) => ({ key: x.deviceId, value: encodeFix(x) })) });

  await send([fix('rider-1', 10, { time: base + 10_000, lat: 52.61 })]);
  await client.waitFor(() => seqs().includes(10), 'seq 10 through the broker');
  // The device reconnects and uploads its backlog: older fixes, produced after the newer one.
  await send(
    Array.from({ length: 7 }, (_, i) => fix('rider-1', i + 3, { time: base + (i + 3) * 1000, lat: 52.5 })),
  );
  // Then garbage on the same partition (same key), then a newer fix.
  await k.producer.send({ topic: TOPIC, messages: [{ key: 'rider-1', value: Buffer.from('not a fix') }] });
  await send([fix('rider-1', 11, { time: base + 11_000, lat: 52.62 })]);
  await client.waitFor(() => seqs().includes(11), 'seq 11 past the backlog and the bad record');
  t.same(seqs(), [10, 11], 'the backlog never reached the map');

  // A record from librdkafka (kcat: a file argument is sent as one message, bytes as they are).
  const dir = mkdtempSync(join(tmpdir(), 'live-kcat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'fix.bin');
  writeFileSync(file, encodeFix(fix('rider-1', 12, { time: base + 12_000, lat: 52.63 })));
  // Asynchronously: the broker runs in this process and must keep answering.
  await promisify(execFile)('kcat', ['-P', '-b', k.address, '-t', TOPIC, '-k', 'rider-1', file]);
  await client.waitFor(() => seqs().includes(12), 'seq 12 produced by kcat');
  t.same(seqs(), [10, 11, 12]);
  t.equal(f.live.get('rider-1')?.fix.lat, 52.63);
  t.equal(f.live.stats().stale, 7, 'the 7 backlog fixes were counted as stale');
  const stats = await (
    await fetch(`${srv.url}/api/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).json();
  const live = (stats as { groups: Array<{ group: string; consumed: number; dlq: number }> }).groups.find(
    (g) => g.group === 'live',
  );
  t.equal(live?.consumed, 11, 'the runner counted every record');
  t.equal(live?.dlq, 1, 'and the bad one');

  // While fixes keep coming, the interval commit catches up with everything consumed so far.
  const ends = await k.admin.fetchTopicOffsets(TOPIC);
  const consumedUpTo = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  let seq = 13;
  await waitFor(async () => {
    await send([fix('rider-1', seq, { time: base + seq * 1000, lat: 52.64 })]);
    seq++;
    const done = await committed(k.admin, 'live', TOPIC);
    return [...consumedUpTo].every(([p, high]) => (done.get(p) ?? -1) >= high || high === 0)
      ? true
      : undefined;
  }, 250);
  t.pass(`offsets committed up to what was consumed (${seq - 13} more fixes sent meanwhile)`);

  // Then traffic stops (riders park for the night): the last fixes' offsets are committed too,
  // without waiting for a next fix, so the group's lag goes to 0 instead of staying at them.
  await send(Array.from({ length: 30 }, (_, i) => fix(`parked-${i}`, 1, { time: base + 60_000 })));
  const last = new Map((await k.admin.fetchTopicOffsets(TOPIC)).map((e) => [e.partition, Number(e.high)]));
  await waitFor(async () => {
    const done = await committed(k.admin, 'live', TOPIC);
    return [...last].every(([p, high]) => high === 0 || done.get(p) === high) ? true : undefined;
  }, 250);
  t.pass('with no fix after them, the last offsets are committed all the same');
  client.close();
});
