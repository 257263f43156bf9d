// Wires one ingest process: the store, the consumer groups, the HTTP server, the pollers.
// main.ts turns env and flags into IngestOptions; tests and scripts/start.ts can call this directly.
//
// Kafka may be away at start-up or go away at any time (a broker restart, a kill -9): nothing
// here waits for it or gives up on it. The groups are supervised (consumer/supervisor.ts), the
// admin and DLQ producer connect in the background until they succeed, and /healthz says 503,
// naming the group, while a group has no live consumer. Only a setting Kafka refuses ends the
// process (onFatal).

import type { FastifyInstance } from 'fastify';
import { type Kafka, type KafkaConfig, logLevel, Partitioners } from 'kafkajs';
import { kafkaClient } from '../shared/kafka-client.js';
import type { Logger } from '../shared/log.js';
import { bootMonotonicMs } from '../shared/monotonic.js';
import type { GroupName } from './config.js';
import { DeadLetterQueue } from './consumer/dead-letter.js';
import { flushTrouble } from './consumer/flush-health.js';
import { kafkaLogCreator } from './consumer/kafka-log.js';
import { keepTrying } from './consumer/keep-trying.js';
import { pollLag } from './consumer/lag.js';
import type { GroupState } from './consumer/runner.js';
import type { FixSink } from './consumer/sink.js';
import { type SupervisedGroup, superviseGroup } from './consumer/supervisor.js';
import { openStore, type StoreOptions } from './db/open.js';
import type { Store } from './db/store.js';
import { ThreadWriteLock } from './db/thread-write-lock.js';
import { GroupsThread } from './groups-thread.js';
import { startHttpServer } from './http/server.js';
import { liveGroupOptions } from './live/group-options.js';
import { LiveView } from './live/live-view.js';
import type { IngestMetrics } from './metrics.js';
import { fixStoreSink } from './sinks/fix-store.js';
import { pollGaps } from './sinks/gaps.js';
import { tripsSink } from './sinks/trips.js';

export interface IngestOptions {
  kafka: KafkaConfig;
  topic: string;
  dlqTopic: string;
  groups: readonly GroupName[];
  /** Prefix for group ids ('' in production; tests use their own). */
  groupPrefix?: string;
  store: StoreOptions;
  flushRows: number;
  flushMs: number;
  /**
   * fix-store members this process runs (INGEST_FIX_STORE_MEMBERS; config.ts defaultFixStoreMembers
   * when unset; 1 when omitted here): the first where
   * fix-store runs anyway, each other on a thread of its own, with its own Kafka client and
   * connection. One member decodes, then writes, then decodes: with two, one decodes while the
   * other writes. On SQLite they take turns writing (ThreadWriteLock); on PostgreSQL they write
   * at the same time. Ignored when the process runs no fix-store group.
   */
  fixStoreMembers?: number | undefined;
  metrics: IngestMetrics;
  log: Logger;
  /** Absent = no HTTP server. */
  http?: {
    token: string;
    listen: { host: string; port: number };
    offlineAfterMs?: number;
    tileUrl?: string | undefined;
    cookieSecure?: boolean;
  };
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  lagPollMs?: number;
  /** A group whose consumer has not been live this long is given a new one (supervisor.ts). */
  stallMs?: number;
  /**
   * Kafka refused a setting (or a group keeps failing, see supervisor.ts); 'kafka' when the admin
   * or producer cannot connect for that reason. main.ts exits non-zero.
   */
  onFatal?: (group: string, e: Error) => void;
}

export interface IngestProcess {
  store: Store;
  live: LiveView;
  /** The groups run on this thread. */
  groups: SupervisedGroup[];
  /**
   * The other threads: the store groups' own, when they share the process with the live group,
   * then one per fix-store member after the first.
   */
  threads: GroupsThread[];
  http?: { app: FastifyInstance; url: string; port: number };
  stop(): Promise<void>;
}

export async function startIngest(o: IngestOptions): Promise<IngestProcess> {
  const log = o.log;
  // The live group pushes each fix as it comes: with it in the process, the store groups run on a
  // thread of their own, so that their decoding, garbage and transactions do not hold those pushes
  // (groups-thread.ts). This thread then runs the live group, the HTTP server and the reads.
  const storeGroups = o.groups.filter((g) => g !== 'live');
  const threaded = o.groups.includes('live') && storeGroups.length > 0;
  const here: readonly GroupName[] = threaded ? ['live'] : o.groups;
  // Only one group publishes bad records to the DLQ (two would double them); the others count
  // and log. A thread that does not run it needs no producer (the store groups' thread has its own).
  const publisher: GroupName = 'fix-store';
  const extraMembers = o.groups.includes('fix-store') ? Math.max(0, (o.fixStoreMembers ?? 1) - 1) : 0;
  const threadGroups: GroupName[][] = [
    ...(threaded ? [storeGroups] : []),
    ...Array.from({ length: extraMembers }, (): GroupName[] => ['fix-store']),
  ];
  // Threads writing one SQLite file take turns through one lock (db/thread-write-lock.ts).
  const storeOptions: StoreOptions =
    extraMembers > 0 && !o.store.databaseUrl && !o.store.sqliteWriteLock
      ? { ...o.store, sqliteWriteLock: ThreadWriteLock.create() }
      : o.store;
  // A database merely away at start is waited for, as Kafka is (db/open.ts).
  const store = await openStore(storeOptions, { log });
  const live = new LiveView();
  const kafka = kafkaClient({ ...o.kafka, logLevel: logLevel.WARN, logCreator: kafkaLogCreator(log) });
  const admin = kafka.admin();
  const producer = here.includes(publisher)
    ? kafka.producer({
        allowAutoTopicCreation: true,
        idempotent: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      })
    : undefined;
  const groups: SupervisedGroup[] = [];
  const threads: GroupsThread[] = [];
  const stops: (() => void)[] = [];
  const stopping = new AbortController();
  let http: IngestProcess['http'];
  // In the background, retried until the broker answers: the DLQ producer (sends wait for it)
  // and the admin (topic creation, lag polling, the kafka health check).
  const fatal = (e: unknown) => {
    if (!stopping.signal.aborted) o.onFatal?.('kafka', e instanceof Error ? e : new Error(String(e)));
    return false;
  };
  const producerReady =
    producer &&
    keepTrying('connect the DLQ producer', () => producer.connect(), log, stopping.signal).catch(fatal);
  void keepTrying('connect the admin client', () => admin.connect(), log, stopping.signal)
    .then(async (up) => {
      if (!up) return;
      await ensureTopic(admin, o.dlqTopic, log);
      if (stopping.signal.aborted) return;
      stops.push(
        pollLag(
          admin,
          groups.map((g) => g.groupId),
          o.topic,
          o.metrics,
          log,
          o.lagPollMs,
        ),
      );
    })
    .catch(fatal);
  try {
    const started = await Promise.allSettled(
      threadGroups.map((names, i) =>
        GroupsThread.start(
          {
            kafka: o.kafka,
            topic: o.topic,
            dlqTopic: o.dlqTopic,
            groups: names,
            groupPrefix: o.groupPrefix,
            store: storeOptions,
            flushRows: o.flushRows,
            flushMs: o.flushMs,
            sessionTimeoutMs: o.sessionTimeoutMs,
            heartbeatIntervalMs: o.heartbeatIntervalMs,
            lagPollMs: o.lagPollMs,
            stallMs: o.stallMs,
            lowerPriority: o.groups.includes('live'),
            label: threaded && i === 0 ? 'store-groups' : `fix-store#${i + (threaded ? 1 : 2)}`,
          },
          (group, e) => o.onFatal?.(group, e),
        ),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') threads.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const dlq = producer && new DeadLetterQueue(producer, o.dlqTopic, () => producerReady!);
    const sinks: Record<GroupName, FixSink> = {
      'fix-store': fixStoreSink(store, o.metrics),
      trips: tripsSink(store, o.metrics, log.child({ group: 'trips' })),
      live,
    };
    for (const name of here) {
      groups.push(
        superviseGroup({
          kafka,
          groupId: `${o.groupPrefix ?? ''}${name}`,
          topic: o.topic,
          sink: sinks[name],
          // The live view is in memory: tuned for latency (live/group-options.ts).
          ...(name === 'live' ? liveGroupOptions(o) : { flushRows: o.flushRows, flushMs: o.flushMs }),
          metrics: o.metrics,
          log,
          deadLetter: name === publisher ? dlq : undefined,
          sessionTimeoutMs: o.sessionTimeoutMs,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          stallMs: o.stallMs,
          onFatal: (e) => o.onFatal?.(name, e),
        }),
      );
    }
    if (o.http) {
      // The gap gauges are read only through /metrics.
      stops.push(pollGaps(store, o.metrics, log));
      http = await startHttpServer(
        {
          token: o.http.token,
          store,
          live,
          registry: o.metrics.registry,
          moreMetrics: threads.map((t) => t.metrics),
          health: {
            database: () => store.ping(),
            kafka: () => admin.describeCluster(),
            ...groupHealthChecks(here, groups, threads),
          },
          logger: log,
          offlineAfterMs: o.http.offlineAfterMs,
          tileUrl: o.http.tileUrl,
          dlqTopic: o.dlqTopic,
          cookieSecure: o.http.cookieSecure,
        },
        o.http.listen,
      );
      log.info({ url: http.url }, 'HTTP server listening');
    }
  } catch (e) {
    await shutdown();
    throw e;
  }

  async function shutdown(): Promise<void> {
    // Not awaiting connects in flight: they see the abort, and the clients are disconnected below.
    stopping.abort();
    for (const s of stops) s();
    await http?.app.close().catch(() => undefined);
    // Groups first: each finishes writing and committing its batch in hand, then the store can
    // close.
    await Promise.all([
      ...groups.map((g) => g.stop().catch((e) => log.warn({ err: e }, 'group stop failed'))),
      ...threads.map((t) => t.stop().catch((e) => log.warn({ err: e }, 'store groups thread stop failed'))),
    ]);
    await producer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await store.close().catch(() => undefined);
  }

  return { store, live, groups, threads, http, stop: shutdown };
}

/**
 * One /healthz check per group member, here or on a thread: ready only while its consumer is live
 * (joined, consuming). A group's first member is `group:<name>`, the next `group:<name>#2`.
 */
function groupHealthChecks(names: readonly GroupName[], groups: SupervisedGroup[], threads: GroupsThread[]) {
  const members = new Map<string, number>();
  const check = (name: string, state: () => Promise<GroupState>) => [
    `group:${name}${memberSuffix(members, name)}`,
    async () => {
      const s = await state();
      if (!s.live) {
        throw new Error(
          `no live consumer for ${Math.round((bootMonotonicMs() - s.since) / 1000)} s: ${s.why}`,
        );
      }
      // Joined and heartbeating is not enough: a full disk fails every flush while all else answers.
      const trouble = flushTrouble(s.flushFailing);
      if (trouble) throw new Error(trouble);
    },
  ];
  return Object.fromEntries([
    ...groups.map((g, i) => check(names[i]!, async () => g.state())),
    ...threads.flatMap((thread) =>
      thread.groups.map((name) =>
        check(name, async () => {
          const s = (await thread.states()).find((t) => t.name === name);
          if (!s) throw new Error(`the store groups thread does not run ${name}`);
          return s.state;
        }),
      ),
    ),
  ]);
}

/** '' for a group's first member, then '#2', '#3'… */
function memberSuffix(seen: Map<string, number>, name: string): string {
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  return n === 1 ? '' : `#${n}`;
}

async function ensureTopic(admin: ReturnType<Kafka['admin']>, topic: string, log: Logger): Promise<void> {
  try {
    // Asked first: kafkajs logs the broker's "already exists" answer to a create as an error, at
    // every start of every process (and of the store groups' thread).
    if ((await admin.listTopics()).includes(topic)) return;
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
  } catch (e) {
    // Production clusters may forbid topic creation; the topic is then made by the operators.
    log.warn({ err: e, topic }, 'could not create topic (it may exist already)');
  }
}
