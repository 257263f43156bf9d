// Keeps one consumer group consuming for the life of the process, whatever the broker does.
//
// Why not leave it to kafkajs: kafkajs restarts a crashed consumer from a timer of its own, but
// (a) consumer.connect()/subscribe() before the first run are not retried beyond its ~10 s of
// connect retries, so a broker away at start-up (or killed while a second group connects) made
// the ingest give up; (b) a crash it judges non-retriable leaves the consumer stopped for good;
// (c) its restart cannot be cancelled reliably by a stop() racing with it. So kafkajs is told
// never to restart (runGroup's onCrash) and this loop does it instead, always with a fresh
// consumer, forever while the cause can heal (the broker away), and gives up (onFatal, the
// process exits 1 and says why) only on a setting the broker refuses or on the same other
// failure maxFailures times in a row without joining in between.
//
// A watchdog replaces a consumer that stays not live (not joined, or its heartbeats unanswered,
// runner.ts) for stallMs without crashing.
// No step of a replacement may hang the loop either (a broker that accepts connections but never
// answers can keep a kafkajs connect, join or disconnect waiting for as long as its request
// timeout and retries allow, minutes): starting a consumer gets stallMs and is then abandoned
// (runGroup disconnects it), stopping one gets stopMs and is then abandoned; both are logged and
// the loop goes on with a fresh consumer.
// Offsets are still committed only by runGroup after the sink made the fixes durable; a replaced
// consumer finishes or abandons its batch in hand, and whatever was not committed is delivered
// again to the next one (the sinks are idempotent).
import { bootMonotonicMs } from '../../shared/monotonic.js';
import { FlushHealth } from './flush-health.js';
import { describeError, isConfigError, isConnectionError } from './kafka-errors.js';
import { type GroupOptions, type GroupState, type RunningGroup, runGroup } from './runner.js';

export interface SupervisorOptions extends Omit<GroupOptions, 'onCrash' | 'onFatal'> {
  /** Nothing more to try; the caller should exit non-zero so an operator sees `e`. */
  onFatal?: (e: Error) => void;
  /** Replace a consumer that has not been live for this long without crashing, or give up
   *  waiting for a new one to start (connect, subscribe, first join). Default 90 s. */
  stallMs?: number;
  /** Abandon a consumer whose stop (batch in hand made durable, group left) takes longer. Its
   *  uncommitted fixes are delivered again to the next consumer. Default 30 s. */
  stopMs?: number;
  /** Pause before the next consumer: first, doubled up to max. Default 500 ms .. 5 s (cheap, and the
   *  broker is used again within seconds of its return). */
  retryMs?: { first: number; max: number };
  /** Failures in a row (not connection errors, no join in between) before giving up. Default 8. */
  maxFailures?: number;
}

export interface SupervisedGroup {
  readonly groupId: string;
  /** Partitions held now (none while no consumer is live). */
  assigned(): number[];
  /** Live = the current consumer has joined and not crashed since; otherwise since when and why not. */
  state(): GroupState;
  /** Consumers replaced so far. */
  replacements(): number;
  /** Stops for good: the batch in hand is made durable and committed, the group left. */
  stop(): Promise<void>;
}

export function superviseGroup(o: SupervisorOptions): SupervisedGroup {
  const log = o.log.child({ group: o.groupId });
  const stallMs = o.stallMs ?? 90_000;
  const first = o.retryMs?.first ?? 500;
  const max = o.retryMs?.max ?? 5_000;
  const maxFailures = o.maxFailures ?? 8;
  const stopMs = o.stopMs ?? 30_000;
  let current: RunningGroup | undefined;
  // The start in progress, so that stop() can abandon it at once.
  let starting: AbortController | undefined;
  // Since when no consumer of ours has been live (undefined while one is), and the last reason.
  // bootMonotonicMs(), as GroupState.since: the stall check is an age, immune to clock steps.
  let downSince: number | undefined = bootMonotonicMs();
  let lastWhy = 'starting';
  let joins = 0;
  let replaced = 0;
  let stopping = false;
  let wakeUp: (() => void) | undefined;
  const flushHealth = new FlushHealth();

  /** Sleeps ms, or less if a crash or stop() wakes it. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const loop = async () => {
    let delay = first;
    let failures = 0;
    while (!stopping) {
      let crash: Error | undefined;
      let g: RunningGroup | undefined;
      const attempt = new AbortController();
      starting = attempt;
      try {
        g = await within(
          runGroup({
            ...o,
            flushHealth,
            signal: attempt.signal,
            onCrash: (e) => {
              crash ??= e;
              wakeUp?.();
            },
          }),
          stallMs,
          attempt,
          'consumer did not start (connect, subscribe, first join)',
        );
      } catch (e) {
        crash = e instanceof Error ? e : new Error(String(e)); // connect/subscribe gave up, or timed out
      } finally {
        starting = undefined;
      }
      current = g;
      // Watch it until it crashes, stalls, or we stop.
      let stalled: string | undefined;
      while (g && !stopping && !crash) {
        const s = g.state();
        if (s.live) downSince = undefined;
        else downSince ??= s.since;
        if (!s.live && bootMonotonicMs() - s.since >= stallMs) {
          stalled = `not live for ${stallMs} ms (${s.why})`;
          break;
        }
        await pause(Math.min(1000, stallMs / 4));
      }
      if (stopping) break;
      const joinedMeanwhile = (g?.state().joins ?? 0) > 0;
      if (g) joins += g.state().joins;
      current = undefined;
      // kafkajs has disconnected a crashed consumer itself; this also flushes its buffer.
      if (g) await stopWithin(g);
      const e = crash ?? new Error(stalled);
      const why = describeError(e);
      downSince ??= bootMonotonicMs();
      lastWhy = why;
      if (isConfigError(e)) {
        log.fatal({ err: e }, 'consumer group cannot run with this configuration');
        o.onFatal?.(e);
        return;
      }
      // A step that timed out is a stall: the broker is there but not answering, which heals.
      if (joinedMeanwhile || stalled || e instanceof KafkaStepTimeout || isConnectionError(e)) failures = 0;
      else failures++;
      if (failures >= maxFailures) {
        log.fatal({ err: e, failures }, 'consumer group keeps failing; giving up');
        o.onFatal?.(e);
        return;
      }
      if (joinedMeanwhile) delay = first;
      replaced++;
      log.warn(
        { reason: why, retryInMs: delay, replacements: replaced },
        'consumer down; starting a new one',
      );
      await pause(delay);
      delay = Math.min(delay * 2, max);
    }
  };

  const running = loop().catch((e) => {
    log.fatal({ err: e }, 'consumer group supervisor failed');
    o.onFatal?.(e instanceof Error ? e : new Error(String(e)));
  });

  return {
    groupId: o.groupId,
    assigned: () => current?.assigned() ?? [],
    state: () => {
      const s = current?.state();
      const failing = flushHealth.failing();
      const flush = failing ? { flushFailing: failing } : {};
      if (s?.live) return { ...s, joins: joins + s.joins, ...flush };
      const why = s && s.why !== 'starting' ? s.why : lastWhy;
      return { live: false, since: downSince ?? s?.since ?? bootMonotonicMs(), why, joins, ...flush };
    },
    replacements: () => replaced,
    stop: async () => {
      stopping = true;
      starting?.abort();
      wakeUp?.();
      await running;
      const g = current;
      current = undefined;
      if (g) await stopWithin(g);
      o.sink.stopped?.();
    },
  };

  /** Stops g, or gives up on it after stopMs: what it had not committed is delivered again. */
  async function stopWithin(g: RunningGroup): Promise<void> {
    try {
      await within(g.stop(), stopMs, undefined, 'old consumer did not stop');
    } catch (e) {
      log.warn({ reason: describeError(e) }, 'abandoning the old consumer');
    }
  }
}

/** A Kafka step that did not finish in time; the supervisor treats it like a stall. */
export class KafkaStepTimeout extends Error {
  override name = 'KafkaStepTimeout';
}

/**
 * p, or a KafkaStepTimeout after ms. On the timeout `abandon` is aborted so the work behind p can
 * let go; aborted by anyone else (stop()), it settles at once too. From then on p's own outcome
 * is swallowed.
 */
function within<T>(
  p: Promise<T>,
  ms: number,
  abandon: AbortController | undefined,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const settle = (done: () => void) => {
      clearTimeout(timer);
      abandon?.signal.removeEventListener('abort', onAbort);
      done();
    };
    const onAbort = () => {
      p.catch(() => undefined);
      settle(() => reject(new KafkaStepTimeout(`${what}: abandoned`)));
    };
    const timer = setTimeout(() => {
      p.catch(() => undefined);
      settle(() => reject(new KafkaStepTimeout(`${what} within ${ms} ms`)));
      abandon?.abort();
    }, ms);
    abandon?.signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => settle(() => resolve(v)),
      (e) => settle(() => reject(e)),
    );
  });
}
