// The store groups on their own worker thread (ingest/groups-thread.ts), driven as app.ts drives
// it: real broker, real SQLite file, the thread's own Kafka client. What the process-level tests
// (ingest-groups-run, the e2e kill tests) cannot pin down: what the thread answers, how it stops,
// and that a start or a group that fails there is reported with its reason, not as a dead thread.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { GroupsThread, type GroupsThreadOptions } from '../ingest/groups-thread.js';
import { encodeFix } from '../shared/fixcodec.js';
import { makeFix } from './helpers/ingest-backends.js';
import { committed, startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOPIC = 'gps.fixes';

/** Niceness of each thread of this process (proc(5): field 19 of /proc/self/task/<tid>/stat). */
function threadNiceness(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

async function setup(t: Test) {
  const k = await startTestBroker();
  const dir = mkdtempSync(join(tmpdir(), 'ingest-groups-thread-'));
  t.teardown(async () => {
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await k.createTopic(TOPIC, 2);
  const options = (more: Partial<GroupsThreadOptions> = {}): GroupsThreadOptions => ({
    kafka: { clientId: 'groups-thread-test', brokers: [k.address] },
    topic: TOPIC,
    dlqTopic: `${TOPIC}.dlq`,
    groups: ['fix-store', 'trips'],
    store: { sqlitePath: join(dir, 'ingest.db') },
    flushRows: 1000,
    flushMs: 20,
    sessionTimeoutMs: 6000,
    ...more,
  });
  return { k, dir, options };
}

t.test(
  'the thread stores and folds what the broker holds, answers states and metrics, commits, stops',
  async (t) => {
    const { k, options } = await setup(t);
    const fatal: string[] = [];
    const base = threadNiceness().get(process.pid)!;
    const thread = await GroupsThread.start(options(), (group, e) => fatal.push(`${group}: ${e.message}`));
    let stopped = false;
    t.teardown(() => (stopped ? undefined : thread.stop()));
    // The live group's thread goes first when the cores are busy (shared/thread-priority.ts).
    const lowered = [...threadNiceness()].filter(([, nice]) => nice === Math.min(19, base + 10));
    t.equal(lowered.length, 1, 'one thread of the process, the store groups, runs 10 nicer');
    t.equal(threadNiceness().get(process.pid), base, 'the main thread keeps its priority');

    const fixes = ['a', 'b', 'c'].flatMap((d) =>
      [1, 2, 3, 4].map((s) => makeFix(`rider-${d}`, s, { speed: 5 })),
    );
    await k.producer.send({
      topic: TOPIC,
      messages: fixes.map((f) => ({ key: f.deviceId, value: encodeFix(f) })),
    });

    const states = await waitFor(async () => {
      const s = await thread.states();
      return s.every((g) => g.state.live && g.assigned.length === 2) ? s : undefined;
    });
    t.same(
      states.map((s) => [s.name, s.groupId, s.assigned]),
      [
        ['fix-store', 'fix-store', [0, 1]],
        ['trips', 'trips', [0, 1]],
      ],
      'both groups joined on the thread, each with both partitions',
    );

    // The thread's registry: the main thread merges it into /metrics.
    const consumed = await waitFor(async () => {
      const m = (await thread.metrics()).find((x) => x.name === 'ingest_consumed_fixes_total');
      const byGroup = Object.fromEntries((m?.values ?? []).map((v) => [v.labels['group'], v.value]));
      return byGroup['fix-store'] === 12 && byGroup['trips'] === 12 ? byGroup : undefined;
    });
    t.same(consumed, { 'fix-store': 12, trips: 12 }, 'each group counted every fix');

    const store = new SqliteStore(options().store.sqlitePath);
    await store.migrate();
    t.teardown(() => store.close());
    for (const d of ['a', 'b', 'c']) {
      const rows = await waitFor(async () => {
        const r = await store.trips(`rider-${d}`);
        return r[0]?.fixes === 4 ? r : undefined;
      });
      t.equal(rows.length, 1, `rider-${d}: one day folded`);
      t.equal(
        (await store.track(`rider-${d}`, 0, Date.UTC(2100, 0), 100)).length,
        4,
        `rider-${d}: 4 fixes stored`,
      );
    }

    // Each group commits after its own transaction: the rows above may be trips' alone (it stores
    // the fixes too), so fix-store's commit is waited for.
    const ends = new Map(
      (await k.admin.fetchTopicOffsets(TOPIC)).map((p) => [p.partition, Number(p.offset)]),
    );
    const sameOffsets = (a: Map<number, number>) => [...ends].every(([p, o]) => a.get(p) === o);
    for (const group of ['fix-store', 'trips']) {
      await waitFor(async () => (sameOffsets(await committed(k.admin, group, TOPIC)) ? true : undefined));
    }
    await thread.stop();
    stopped = true;
    for (const group of ['fix-store', 'trips']) {
      t.same(await committed(k.admin, group, TOPIC), ends, `${group}: everything consumed is committed`);
    }
    await t.rejects(thread.states(), /store groups thread exited/, 'a stopped thread says so');
    t.same(fatal, [], 'nothing fatal');
  },
);

t.test('a start that fails on the thread is an error with its reason', async (t) => {
  const { dir, options } = await setup(t);
  const notAFile = join(dir, 'a-directory');
  mkdirSync(notAFile);
  await t.rejects(
    GroupsThread.start(options({ store: { sqlitePath: notAFile } }), () => undefined),
    /directory|unable to open|SQLITE_CANTOPEN/i,
  );
});

t.test('a setting Kafka refuses, met on the thread, reaches onFatal with the group and why', async (t) => {
  const { options } = await setup(t);
  let reported: { group: string; e: Error } | undefined;
  // The broker refuses a session timeout below its group.min.session.timeout.ms (6 s).
  const thread = await GroupsThread.start(
    options({ groups: ['fix-store'], sessionTimeoutMs: 3000 }),
    (group, e) => {
      reported ??= { group, e };
    },
  );
  t.teardown(() => thread.stop());
  const r = await waitFor(() => reported);
  t.equal(r.group, 'fix-store');
  t.match(r.e.message, /session timeout/i);
});

t.test(
  'a thread that ends while the groups run is fatal: the process must exit, not run on without them',
  async (t) => {
    const { options } = await setup(t);
    const reported: { group: string; e: Error }[] = [];
    const thread = await GroupsThread.start(options(), (group, e) => {
      reported.push({ group, e });
    });
    t.teardown(() => thread.stop());
    await waitFor(async () => ((await thread.states()).every((g) => g.state.live) ? true : undefined));
    // Nothing outside the test can end only the worker (an out-of-memory or a native crash in it
    // would); terminating the real worker ends it the same way: its 'exit' event, unasked.
    await (thread as unknown as { worker: Worker }).worker.terminate();
    const r = await waitFor(() => reported[0]);
    t.equal(r.group, 'fix-store,trips', 'names the groups that stopped');
    t.match(r.e.message, /store groups thread exited/);
    await t.rejects(thread.states(), /exited/, 'questions are refused, not left hanging');
    t.equal(reported.length, 1, 'reported once');
  },
);
