// Runs one consumer group: Kafka -> decode -> (bad: dead-letter topic) -> flush buffer -> sink,
// committing a partition's offsets only after the sink made its fixes durable.
//
// A batch's offset is committed only after (a) its bad records are acknowledged on the DLQ topic
// and (b) the flush holding its good fixes resolved; meanwhile kafkajs goes on fetching and the
// next batches are decoded (durable-commits.ts: in order per partition, a failed flush read
// again). A crash anywhere before the commit means redelivery, which the sinks absorb
// (idempotent writes). A bad record never stops its partition: it is dead-lettered and passed;
// so is a decoded fix the database refuses as data (db/errors.ts), found by halving the batch.
// A group with commitIntervalMs (the live view) instead waits for each flush, commits its
// resolved offsets on a timer, and when behind flushes without waiting for the flush timer
// (catch-up-flush.ts).
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Fix } from '../../shared/fix.js';
import type { Logger } from '../../shared/log.js';
import { bootMonotonicMs } from '../../shared/monotonic.js';
import type { RejectedSeq } from '../db/rejected.js';
import type { IngestMetrics } from '../metrics.js';
import { CatchUpFlush, type CatchUpSlot } from './catch-up-flush.js';
import type { DeadLetterQueue, DeadRecord } from './dead-letter.js';
import { decodeMessage, reasonClass } from './decode.js';
import { DurableCommits } from './durable-commits.js';
import { FlushBuffer } from './flush-buffer.js';
import type { FlushFailing, FlushHealth } from './flush-health.js';
import { guardedFlush } from './guarded-flush.js';
import { IdleCommit } from './idle-commit.js';
import { describeError } from './kafka-errors.js';
import type { FixSink } from './sink.js';

export interface GroupOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  sink: FixSink;
  /** Flush when this many fixes wait... */
  flushRows: number;
  /** ...or when the oldest waiting fix is this old (ms). */
  flushMs: number;
  metrics: IngestMetrics;
  log: Logger;
  /** Where bad records go; absent = this group only counts and logs them (another group publishes). */
  deadLetter?: DeadLetterQueue;
  /** Partitions processed at the same time (their fixes share flushes). Default 12. */
  concurrency?: number;
  sessionTimeoutMs?: number;
  /** Default: a tenth of the session (at least 300 ms), so one lost heartbeat does not cost the partitions. */
  heartbeatIntervalMs?: number;
  /** Largest fetch per partition (bytes); default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Long-poll wait of a fetch with nothing to read (ms); default min(flushMs, 1000). */
  maxWaitTimeInMs?: number;
  /**
   * Commit offsets at most this often (ms) instead of after every batch. kafkajs fetches again
   * only after the batches' commits, each a round trip (an fsync on the embedded broker); a sink
   * whose redelivery is free (the live view ignores older fixes) takes that off its path.
   * Offsets not yet committed at a crash, stop or rebalance are read again.
   */
  commitIntervalMs?: number;
  /**
   * The consumer stopped for good (kafkajs will not restart it, e.g. the broker refused the
   * session timeout). A process that runs but consumes nothing must not look healthy: the caller
   * should exit so the supervisor restarts it and the operator sees the error.
   */
  onFatal?: (e: Error) => void;
  /**
   * Given: every crash is reported here and kafkajs does not restart the consumer itself; the
   * caller (supervisor.ts) replaces it. onFatal is then not called.
   */
  onCrash?: (e: Error) => void;
  /**
   * The caller gave up waiting for the start (connect, subscribe, first join): the consumer is
   * disconnected at once, which fails the kafkajs step in flight, and runGroup rejects instead of
   * going on to join as a member nobody supervises.
   */
  signal?: AbortSignal;
  /** Told of each flush's outcome; kept by the supervisor across the consumers it replaces. */
  flushHealth?: FlushHealth;
}

export interface RunningGroup {
  readonly groupId: string;
  readonly consumer: Consumer;
  /** Partitions of the topic this member holds now. */
  assigned(): number[];
  /**
   * Live: joined the group, not crashed, stopped or disconnected since, and the coordinator
   * answered a heartbeat (or the join) within the session timeout. kafkajs restarts a crashed
   * consumer by itself (live again at its next join); the supervisor watches this flag for a
   * consumer that stays down.
   */
  state(): GroupState;
  /** Leaves the group after the batch in hand is durable and committed. */
  stop(): Promise<void>;
}

export interface GroupState {
  live: boolean;
  /**
   * bootMonotonicMs() of the last change of `live`: an age is taken from it (the supervisor's
   * stall check, /healthz), and a wall-clock step (a VM resumed or migrated, chrony's makestep)
   * is not time passing. CLOCK_MONOTONIC, not performance.now(): the state of a group on the
   * store groups thread is read on the main thread, and each thread's performance.now() has an
   * origin of its own.
   */
  since: number;
  /** Why it is not live (or 'joined'). */
  why: string;
  /** Joins so far (kafkajs rejoins after each rebalance). */
  joins: number;
  /** Flushes failing since, and why (supervised groups; absent while flushes succeed). */
  flushFailing?: FlushFailing;
}

/** Bad records logged one by one per batch; the rest are summed up in one line. */
const BAD_LINES_PER_BATCH = 5;

const countBy = <T>(items: readonly T[], key: (t: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
};

/** The bad records that named their device and seq, as the sink records them. */
const rejectedSeqs = (bad: readonly DeadRecord[]): RejectedSeq[] =>
  bad.flatMap((b) => (b.identity ? [{ ...b.identity, reason: b.reason }] : []));

export async function runGroup(o: GroupOptions): Promise<RunningGroup> {
  const log = o.log.child({ group: o.groupId });
  const m = o.metrics;
  const labels = { group: o.groupId };
  const sessionTimeoutMs = o.sessionTimeoutMs ?? 30_000;
  const consumer = o.kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: o.heartbeatIntervalMs ?? Math.max(300, Math.floor(sessionTimeoutMs / 10)),
    maxBytesPerPartition: o.maxBytesPerPartition ?? 1024 * 1024,
    maxWaitTimeInMs: o.maxWaitTimeInMs ?? Math.min(o.flushMs, 1000),
    retry: {
      retries: 10,
      // Supervised (onCrash given): no restart timer of kafkajs's own. Its restart runs in the
      // background where nobody can cancel it reliably: a consumer stopped during that window
      // could come back as a second member; and a consumer it does not restart just sits idle.
      ...(o.onCrash ? { restartOnFailure: async () => false } : {}),
    },
  });
  const buffer = new FlushBuffer(
    guardedFlush({
      sink: o.sink,
      metrics: m,
      group: o.groupId,
      log,
      deadLetter: o.deadLetter,
      health: o.flushHealth,
    }),
    o.flushRows,
    o.flushMs,
  );

  let assigned: number[] = [];
  let state: GroupState = { live: false, since: bootMonotonicMs(), why: 'starting', joins: 0 };
  // When the coordinator last answered this member (its join or a heartbeat). kafkajs reports
  // nothing while it waits on a broker that went away or stopped answering: no crash until its
  // request timeouts and retries run out (minutes), so a joined consumer would look live all along.
  // Past the session timeout the broker has dropped the member anyway. On the monotonic clock:
  // on the wall clock a forward step made every healthy member look silent for the whole step
  // (/healthz not ready, the supervisor replacing it), a backward one hid a silent member.
  let answeredAt = 0;
  const setLive = (live: boolean, why: string) => {
    if (!live) assigned = [];
    state = live === state.live ? { ...state, why } : { ...state, live, since: bootMonotonicMs(), why };
  };
  const lazyCommit = o.commitIntervalMs !== undefined;
  let committing = false;
  // Paused partitions' resume timers (a failed flush's backoff); cleared by stop().
  const resumes = new Set<NodeJS.Timeout>();
  const durable = lazyCommit
    ? undefined
    : new DurableCommits({
        commit: (offsets) =>
          consumer.commitOffsets(
            offsets.map((x) => ({ topic: o.topic, partition: x.partition, offset: x.offset })),
          ),
        owns: (partition) => assigned.includes(partition),
        rewind: (positions, pauseMs) => {
          log.warn(
            { positions, retryInMs: pauseMs },
            'flush failed; the partitions are read again from their first fix not stored',
          );
          // What was handed over behind the failed flush is read again: not written meanwhile (it
          // would be written twice, and on a full disk a small flush of it can fit where the
          // batch did not, making the group look healthy between failures).
          buffer.discard(new Error('an earlier flush failed; these fixes are read again'));
          const tp = [{ topic: o.topic, partitions: positions.map((x) => x.partition) }];
          try {
            consumer.pause(tp);
            for (const x of positions)
              consumer.seek({ topic: o.topic, partition: x.partition, offset: x.offset });
          } catch (e) {
            // Not running any more (stopped, crashed): the next consumer reads from the last commit.
            log.warn({ err: e }, 'could not rewind the partitions');
            return;
          }
          const timer = setTimeout(() => {
            resumes.delete(timer);
            try {
              consumer.resume(tp);
            } catch (e) {
              // Stopped or crashed meanwhile: its replacement starts unpaused.
              log.warn({ err: e }, 'could not resume the partitions');
            }
          }, pauseMs);
          resumes.add(timer);
        },
        commitFailed: (e) =>
          log.warn({ reason: describeError(e) }, 'offset commit failed; the next one covers it'),
      });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = [...(e.payload.memberAssignment[o.topic] ?? [])].sort((a, b) => a - b);
    // kafkajs reads every partition from its committed offset again after a join.
    durable?.reset();
    setLive(true, 'joined');
    answeredAt = bootMonotonicMs();
    state.joins++;
    log.info({ partitions: assigned }, 'joined group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    setLive(false, `crashed: ${describeError(e.payload.error)}`);
    if (o.onCrash) {
      // Supervised: kafkajs was told not to restart (restartOnFailure above); the supervisor
      // decides, with a fresh consumer.
      log.error({ err: e.payload.error }, 'consumer crashed');
      o.onCrash(e.payload.error);
      return;
    }
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) o.onFatal?.(e.payload.error);
  });
  consumer.on(consumer.events.HEARTBEAT, () => {
    answeredAt = bootMonotonicMs();
  });
  consumer.on(consumer.events.STOP, () => setLive(false, 'stopped'));
  consumer.on(consumer.events.DISCONNECT, () => setLive(false, 'disconnected'));

  /** Batches in eachBatch now (stop() waits for them before the last flush). */
  let inBatch = 0;
  let batchesDone: (() => void) | undefined;
  const idleCommit = new IdleCommit(o.commitIntervalMs ?? 0);
  const catchUp = new CatchUpFlush(() => void buffer.flushNow());
  const eachBatch = async (p: EachBatchPayload) => {
    if (p.batch.messages.length === 0) return;
    // Only a batch that waits for its flush holds kafkajs's next fetch (catch-up-flush.ts).
    const slot = durable ? undefined : catchUp.enter();
    inBatch++;
    try {
      await handleBatch(p, slot);
    } finally {
      slot?.leave();
      if (--inBatch === 0) batchesDone?.();
    }
  };
  const handleBatch = async (p: EachBatchPayload, slot: CatchUpSlot | undefined) => {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = p;
    // Fetched before a rewind of its partition (or before it was taken away): read again later.
    if (durable && isStale()) return;
    const last = batch.lastOffset();
    // Records of this partition at the broker beyond this batch, as of its fetch.
    const lag = Math.max(0, Number(batch.highWatermark) - Number(last) - 1);
    const good: Fix[] = [];
    const bad: DeadRecord[] = [];
    const now = Date.now();
    for (const message of batch.messages) {
      const d = decodeMessage(message, now);
      if ('fix' in d) good.push(d.fix);
      else
        bad.push({
          topic: batch.topic,
          partition: batch.partition,
          message,
          reason: d.reason,
          group: o.groupId,
          identity: d.identity,
        });
    }
    m.consumedFixes.inc(labels, batch.messages.length);
    const work: Promise<void>[] = [buffer.add(good)];
    if (bad.length > 0) {
      for (const b of bad) m.dlqRecords.inc({ ...labels, reason: reasonClass(b.reason) });
      // A line per record, up to a few a batch: a backlog of thousands of bad fixes wrote a line
      // each, every time a failing batch came again (20 MB of log in a minute). The DLQ
      // headers and the counter keep every one; the summary says how many more and which offsets.
      for (const b of bad.slice(0, BAD_LINES_PER_BATCH)) {
        log.warn(
          { partition: b.partition, offset: b.message.offset, reason: b.reason, dlq: !!o.deadLetter },
          'bad fix record',
        );
      }
      if (bad.length > BAD_LINES_PER_BATCH) {
        log.warn(
          {
            partition: batch.partition,
            more: bad.length - BAD_LINES_PER_BATCH,
            lastOffset: bad[bad.length - 1]!.message.offset,
            reasons: countBy(bad.slice(BAD_LINES_PER_BATCH), (b) => reasonClass(b.reason)),
            dlq: !!o.deadLetter,
          },
          'more bad fix records in this batch',
        );
      }
      if (o.deadLetter) work.push(o.deadLetter.send(bad));
      const refused = rejectedSeqs(bad);
      if (refused.length > 0 && o.sink.handleRejected) work.push(o.sink.handleRejected(refused));
    }
    slot?.added(lag > 0);
    m.consumerLag.set({ ...labels, topic: batch.topic, partition: String(batch.partition) }, lag);
    // Measured as of the batch's fetch, when `now` was read.
    m.lagUpdated.set(labels, now / 1000);
    if (durable) {
      // Committed once durable (durable-commits.ts); kafkajs fetches on past it meanwhile.
      durable.track(
        batch.partition,
        batch.firstOffset()!,
        String(Number(last) + 1),
        good.length,
        Promise.all(work),
      );
      resolveOffset(last);
      await durable.room(2 * o.flushRows);
      if (isRunning()) await heartbeat();
      return;
    }
    await Promise.all(work);
    // Stale: the partition was reassigned meanwhile. Its new owner re-reads from the last commit;
    // what we wrote is idempotent, so not committing here is safe. Not running (stop() came
    // during the write) is no reason to skip: the batch is durable, and kafkajs commits what is
    // resolved once this returns, before it leaves the group, so a restart does not read it again.
    if (isStale()) return;
    // kafkajs (autoCommit) commits the resolved offsets right after eachBatch returns.
    resolveOffset(last);
    if (lazyCommit && !committing) {
      // One at a time: the batches of a fetch all get here together, and each commit would wait
      // its turn (an fsync on the embedded broker) on the connection the next fetch uses.
      committing = true;
      await p.commitOffsetsIfNecessary().finally(() => {
        committing = false;
      });
    }
    if (lazyCommit) idleCommit.arm(p.commitOffsetsIfNecessary);
    if (isRunning()) await heartbeat();
  };

  const abandon = () => void consumer.disconnect().catch(() => undefined);
  const notAbandoned = () => {
    if (o.signal?.aborted) throw new Error('consumer start abandoned by its supervisor');
  };
  o.signal?.addEventListener('abort', abandon, { once: true });
  try {
    notAbandoned();
    await consumer.connect();
    notAbandoned();
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    notAbandoned();
    // Resolves after the first join attempt, joined or not: a failed join is a crash that kafkajs
    // restarts by itself (or reports with restart=false, see onFatal).
    await consumer.run({
      eachBatchAutoResolve: false,
      // Offsets are committed by durable-commits.ts, or on the lazy group's timer: kafkajs itself
      // would commit every resolved offset, durable or not.
      autoCommit: false,
      ...(lazyCommit ? { autoCommitInterval: o.commitIntervalMs } : {}),
      partitionsConsumedConcurrently: o.concurrency ?? 12,
      eachBatch,
    });
    notAbandoned();
  } catch (e) {
    // Connect or subscribe gave up (broker unreachable) or the start was abandoned: leave nothing
    // half-open behind.
    await consumer.disconnect().catch(() => undefined);
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', abandon);
  }
  log.info({ topic: o.topic, flushRows: o.flushRows, flushMs: o.flushMs }, 'consumer group running');

  return {
    groupId: o.groupId,
    consumer,
    assigned: () => assigned,
    state: () => {
      if (!state.live || bootMonotonicMs() - answeredAt <= sessionTimeoutMs) return state;
      return {
        ...state,
        live: false,
        since: answeredAt + sessionTimeoutMs,
        why: `no heartbeat answered within the session timeout (${sessionTimeoutMs} ms)`,
      };
    },
    stop: async () => {
      idleCommit.cancel();
      catchUp.drain();
      for (const t of resumes) clearTimeout(t);
      resumes.clear();
      if (durable) {
        // The batches in hand are written and their offsets committed before the member leaves,
        // so a restart does not read them again: no more fetches, then the last flush.
        try {
          consumer.pause([{ topic: o.topic }]);
        } catch {
          // Not running (crashed, never joined): nothing is fetched anyway.
        }
        if (inBatch > 0) await new Promise<void>((r) => (batchesDone = r));
        await buffer.flushNow();
        await durable.settled();
      }
      await consumer.disconnect();
      await buffer.flushNow();
    },
  };
}
