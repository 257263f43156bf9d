// Consumer groups end to end through the real embedded broker and the real PostgreSQL:
// offsets wait for the database commit, and two ingest processes share and take over partitions.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { runGroup } from '../ingest/consumer/runner.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { fixStoreSink } from '../ingest/sinks/fix-store.js';
import { accumulate, type TripDay } from '../ingest/trips/accumulate.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { makeFix, PG_URL, uniqueSchema } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';

async function pgStore(tag: string) {
  const store = new PostgresStore({ connectionString: PG_URL, schema: uniqueSchema(tag) });
  await store.migrate();
  return store;
}

async function count(store: PostgresStore): Promise<number> {
  return store.tx(async (c) => Number((await c.query('SELECT count(*) AS n FROM fixes')).rows[0].n));
}

t.test('offsets are committed only after the database transaction commits', async (t) => {
  const k = await startTestBroker();
  const store = await pgStore('commit');
  const metrics = createIngestMetrics();
  t.teardown(async () => {
    await group.stop();
    await k.stop();
    await store.dropSchema();
    await store.close();
  });
  await k.createTopic(TOPIC, 2);
  // A real failure of the database, not of the data: the table is gone until it is put back.
  await store.tx((c) => c.query('ALTER TABLE fixes RENAME TO fixes_away'));
  await k.producer.send({
    topic: TOPIC,
    messages: [1, 2, 3, 4, 5].map((s) => ({ key: 'd', partition: 0, value: encodeFix(makeFix('d', s)) })),
  });
  const group = await runGroup({
    kafka: k.kafka,
    groupId: 'fix-store',
    topic: TOPIC,
    sink: fixStoreSink(store, metrics),
    flushRows: 100,
    flushMs: 10,
    metrics,
    log: createLogger('test', 'silent'),
  });
  await waitFor(async () => ((await metrics.sinkErrors.get()).values[0]?.value ?? 0) >= 2 || undefined);
  t.equal((await committed(k.admin, 'fix-store', TOPIC)).get(0), -1, 'failing writes: nothing committed');
  t.equal(
    (await metrics.dlqRecords.get()).values.length,
    0,
    'a database failure is retried, not dead-lettered',
  );
  await store.tx((c) => c.query('ALTER TABLE fixes_away RENAME TO fixes'));
  await waitFor(async () => ((await committed(k.admin, 'fix-store', TOPIC)).get(0) === 5 ? true : undefined));
  t.equal(await count(store), 5, 'every fix stored once the database accepts them');
});

/** An `ingest run` child process, with its JSON log lines parsed. */
function startIngestChild(env: NodeJS.ProcessEnv, name: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'run'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = {
    partitions: new Map<string, number[]>(),
    exited: null as number | string | null,
    stderr: '',
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const e = JSON.parse(line);
      if (e.msg === 'joined group') {
        state.partitions.set(e.group, e.partitions);
      }
    } catch {
      // not a log line
    }
  });
  child.stderr!.on('data', (d) => {
    state.stderr += String(d);
  });
  child.on('exit', (code, signal) => {
    state.exited = code ?? signal;
  });
  return { child, state, name };
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

t.test('two processes split the partitions; SIGKILL one, the other takes all, every fix once', async (t) => {
  // Both durable groups run in each process: fix-store and trips.
  const k = await startTestBroker();
  const store = await pgStore('failover');
  const children: ReturnType<typeof startIngestChild>[] = [];
  t.teardown(async () => {
    for (const c of children) await kill(c.child, 'SIGKILL');
    await k.stop();
    await store.dropSchema();
    await store.close();
  });
  await k.createTopic(TOPIC, 12);
  const env = {
    KAFKA_BROKERS: k.address,
    DATABASE_URL: PG_URL,
    INGEST_DB_SCHEMA: store.schema,
    INGEST_GROUPS: 'fix-store,trips',
    INGEST_HTTP: 'false',
    INGEST_FLUSH_ROWS: '200',
    INGEST_FLUSH_MS: '20',
    INGEST_SESSION_TIMEOUT_MS: '6000',
    // One member a process, so that a process's partitions are its member's: two members in one
    // process (the default) are test/ingest-fix-store-members.test.ts's.
    INGEST_FIX_STORE_MEMBERS: '1',
    LOG_LEVEL: 'info',
  };
  const a = startIngestChild(env, 'a');
  children.push(a);
  const GROUPS = ['fix-store', 'trips'];
  const held = (c: typeof a, g: string) => c.state.partitions.get(g) ?? [];
  await waitFor(() =>
    GROUPS.every((g) => held(a, g).length === 12) ? true : a.state.exited !== null ? 'dead' : undefined,
  );
  t.equal(a.state.exited, null, `a is running ${a.state.stderr}`);
  const b = startIngestChild(env, 'b');
  children.push(b);
  await waitFor(() =>
    GROUPS.every((g) => held(b, g).length > 0 && held(a, g).length + held(b, g).length === 12)
      ? true
      : undefined,
  );
  for (const g of GROUPS) {
    t.ok(held(a, g).length > 0 && held(b, g).length > 0, `${g}: the partitions are split`);
    t.same(
      [...held(a, g), ...held(b, g)].sort((x, y) => x - y),
      [...Array(12).keys()],
    );
  }

  // Produce while they consume: 60 devices x 400 fixes, in rounds of one fix per device.
  const DEVICES = 60;
  const PER_DEVICE = 400;
  const total = DEVICES * PER_DEVICE;
  let killed = false;
  for (let seq = 1; seq <= PER_DEVICE; seq += 20) {
    const messages = [];
    for (let s = seq; s < seq + 20; s++) {
      for (let d = 0; d < DEVICES; d++) {
        const id = `rider-${d}`;
        messages.push({ key: id, value: encodeFix(makeFix(id, s)) });
      }
    }
    await k.producer.send({ topic: TOPIC, messages });
    if (!killed && seq > PER_DEVICE / 3 && (await count(store)) > 0) {
      await kill(b.child, 'SIGKILL'); // mid-stream: b may hold written-but-uncommitted batches
      killed = true;
    }
  }
  t.ok(killed, 'b was killed while fixes were flowing');
  await waitFor(() => (GROUPS.every((g) => held(a, g).length === 12) ? true : undefined), 100);
  t.pass('a took over all 12 partitions of both groups');
  await waitFor(async () => ((await count(store)) >= total ? true : undefined), 100);
  const offsets = await committed(k.admin, 'fix-store', TOPIC);
  const ends = await k.admin.fetchTopicOffsets(TOPIC);
  await waitFor(async () => {
    const c = await committed(k.admin, 'fix-store', TOPIC);
    return ends.every((e) => c.get(e.partition) === Number(e.high)) ? true : undefined;
  }, 100);
  t.ok(offsets.size > 0, 'offsets committed');
  t.equal(await count(store), total, 'every fix exactly once');
  const devices = await store.devices();
  t.equal(devices.length, DEVICES);
  t.ok(
    devices.every((d) => d.fixCount === PER_DEVICE && d.maxSeq === PER_DEVICE && d.gaps.length === 0),
    'per-device counts match the rows: no fix counted twice, no gap',
  );
  // Trips: the same numbers as one in-order pass over each device's fixes, despite the kill.
  await waitFor(async () => {
    const c = await committed(k.admin, 'trips', TOPIC);
    return ends.every((e) => c.get(e.partition) === Number(e.high)) ? true : undefined;
  }, 100);
  for (const d of [0, 17, 59]) {
    const id = `rider-${d}`;
    const days = new Map<string, TripDay>();
    accumulate(
      id,
      null,
      Array.from({ length: PER_DEVICE }, (_, i) => makeFix(id, i + 1)),
      days,
    );
    const want = [...days.values()];
    const got = await store.trips(id);
    t.equal(got.length, want.length, `${id}: trip days`);
    t.equal(got[0]?.fixes, want[0]!.fixes, `${id}: each fix folded once`);
    t.ok(Math.abs(got[0]!.distanceM - want[0]!.distanceM) < 1e-6, `${id}: distance ${got[0]!.distanceM}`);
    t.equal(got[0]?.movingS, want[0]!.movingS);
  }
  await kill(a.child, 'SIGTERM');
  t.equal(a.state.exited, 0, 'SIGTERM: clean exit after the batch in hand');
});
