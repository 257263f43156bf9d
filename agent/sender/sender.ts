// The sender: moves fixes from the outbox to Kafka, and deletes a row only after Kafka
// acknowledged it (acks=-1, idempotent producer).
//
// Each round sends first the newest fix of every device that has one unsent (alone, so the
// customer's live view is current the moment the network is back), then the oldest backlog in one
// large gzip batch. While the broker is unreachable the round fails, the producer is thrown away
// and the next attempt waits a capped exponential backoff with jitter; the outbox keeps collecting.
//
// Why a new producer after a failed send: kafkajs numbers the batches of an idempotent producer.
// If it gives up on a batch whose fate is unknown, a later batch must not reuse its numbers (the
// broker could take it for a duplicate and drop it); a new producer id starts a fresh numbering.
//
// The outbox failing under the sender (a full card when deleting acknowledged rows) is not a
// Kafka failure: it is kept apart (state.disk, its own log line, a shorter retry), and the
// producer and the Kafka link state are left as they are (outbox-io.ts).
import {
  CompressionTypes,
  type Kafka,
  type KafkaConfig,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { decodeFix, encodeFix } from '../../shared/fixcodec.js';
import { kafkaClient } from '../../shared/kafka-client.js';
import type { Logger } from '../../shared/log.js';
import { bootMonotonicMs, monotonicMs } from '../../shared/monotonic.js';
import type { Outbox, PendingFix } from '../outbox/outbox.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { countingSocketFactory } from './counting-socket.js';
import { kafkaLogCreator } from './kafka-log.js';
import { OutboxIoError, outboxIo } from './outbox-io.js';

/**
 * Backlog rows per produce request. Not more: kafkajs groups a request's messages by partition
 * by copying the array once per message (quadratic), so 10,000 drains slower than 5,000
 * (bench/agent.ts, drain.senderInProcess with --batch).
 */
export const DEFAULT_BATCH_SIZE = 5000;
/**
 * Uncompressed bytes of fix records per produce request. Brokers limit a record batch (Kafka's
 * max.message.bytes, 1 MiB by default); half of that leaves room for record headers and keys.
 */
export const MAX_BATCH_BYTES = 512 * 1024;
/**
 * Longest wait between tries of a failing outbox: each try is one local commit, cheap, and the
 * acknowledged rows it deletes should not wait a network-sized backoff once the card has room.
 */
const DISK_RETRY_CAP_MS = 5000;

export interface SenderOptions {
  outbox: Outbox;
  /** Client settings (brokers, TLS, SASL) from shared/kafka.ts kafkaClientConfig. */
  kafka: KafkaConfig;
  topic: string;
  log: Logger;
  /** Backlog rows per produce request. */
  batchSize?: number;
  backoff?: BackoffOptions;
  /** How long one produce request may take before it counts as failed. */
  requestTimeoutMs?: number;
  /** How long stop() waits for a request in flight. */
  stopTimeoutMs?: number;
}

export interface SenderState {
  connected: boolean;
  /** Wall clock of the last connected/disconnected change. */
  since: number;
  lastAckAt: number | null;
  /** bootMonotonicMs() of the last ack: its age for `status`, immune to clock steps. */
  lastAckMono?: number | null;
  /** Message of the last failure (never contains credentials: kafkajs errors name brokers only). */
  lastError: string | null;
  /** Failed attempts in a row. */
  attempt: number;
  /**
   * The outbox (the local disk) as the sender met it, apart from Kafka: deleting acknowledged
   * rows or reading the backlog failed (a full card). Absent in states written by older agents.
   */
  disk?: DiskState;
}

export interface DiskState {
  /** The current failure; null once an outbox operation of the sender works again. */
  error: string | null;
  /** Wall clock of the first failure of the current run of failures. */
  since: number | null;
  /** The last failure, kept after recovery so `status` can tell what happened. */
  lastError: string | null;
  lastErrorAt: number | null;
  /** Failed outbox operations since start. */
  failures: number;
}

/**
 * Fixes sent and bytes the client wrote for them (Kafka protocol bytes of every request made while
 * sending them: produce, and metadata when needed), live vs draining the backlog.
 */
export interface SenderStats {
  liveFixes: number;
  liveBytes: number;
  liveRequests: number;
  drainFixes: number;
  drainBytes: number;
  drainRequests: number;
}

type Kind = 'live' | 'drain';

export class Sender {
  readonly stats: SenderStats = {
    liveFixes: 0,
    liveBytes: 0,
    liveRequests: 0,
    drainFixes: 0,
    drainBytes: 0,
    drainRequests: 0,
  };
  private stateValue: SenderState & { disk: DiskState } = {
    connected: false,
    since: Date.now(),
    lastAckAt: null,
    lastAckMono: null,
    lastError: null,
    attempt: 0,
    disk: { error: null, since: null, lastError: null, lastErrorAt: null, failures: 0 },
  };
  /** Failed outbox operations in a row: the delay before the next try. */
  private diskAttempt = 0;
  /**
   * Monotonic ms (shared/monotonic.ts) of the last loop step (a round, a wait or a backoff
   * ending): the watchdog's pulse. Not the wall clock: NTP stepping a Pi's clock forward while the
   * sender waited in a backoff made it look stuck for the whole step, and systemd killed it.
   */
  lastProgressAt = monotonicMs();
  private readonly kafka: Kafka;
  private readonly batchSize: number;
  private readonly backoff: BackoffOptions;
  private readonly stopTimeoutMs: number;
  private producer: Producer | null = null;
  private stopping = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private bucket: Kind = 'live';
  /** Set by every append, cleared when a round starts: no wake-up is lost while a round runs. */
  private dirty = false;
  private readonly onAppend = () => {
    this.dirty = true;
    this.wake?.();
  };
  private readonly listeners = new Set<(s: SenderState) => void>();

  constructor(private readonly opts: SenderOptions) {
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 3000;
    this.kafka = kafkaClient({
      connectionTimeout: 3000,
      requestTimeout: opts.requestTimeoutMs ?? 10_000,
      // Few quick retries inside kafkajs; the long waits are ours (backoff with jitter).
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      logCreator: kafkaLogCreator(opts.log),
      socketFactory: countingSocketFactory((n) => this.countBytes(n)),
      ...opts.kafka,
    });
  }

  get state(): SenderState {
    return { ...this.stateValue, disk: { ...this.stateValue.disk } };
  }

  /** Called on every connected/disconnected change (and on each new failure while offline). */
  onState(listener: (s: SenderState) => void): void {
    this.listeners.add(listener);
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.opts.outbox.on('append', this.onAppend);
    this.running = this.loop();
  }

  /** Stops after the request in flight (at most stopTimeoutMs); unacknowledged rows stay in the outbox. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.opts.outbox.off('append', this.onAppend);
    this.wake?.();
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((r) => (timer = setTimeout(r, this.stopTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.running = null;
    await this.dropProducer();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.lastProgressAt = monotonicMs();
      try {
        const producer = await this.connectedProducer();
        const sent = await this.round(producer);
        this.kafkaAnswered();
        if (this.stateValue.disk.error !== null) this.setDisk(null);
        if (!sent) await this.waitForWork(1000);
      } catch (e) {
        if (this.stopping) break;
        if (e instanceof OutboxIoError) {
          // The card, not Kafka: keep the producer (it is fine, and what Kafka acknowledged stays
          // acknowledged in the outbox's memory), and try the outbox again soon.
          this.setDisk(e.message);
          const delay = backoffDelay(this.diskAttempt++, { ...this.backoff, capMs: DISK_RETRY_CAP_MS });
          await this.waitForWork(delay, false);
          continue;
        }
        await this.dropProducer();
        const delay = backoffDelay(this.stateValue.attempt, this.backoff);
        this.setConnected(false, errorText(e));
        this.opts.log.debug({ delayMs: delay, attempt: this.stateValue.attempt }, 'sender: retrying later');
        await this.waitForWork(delay, false);
      }
    }
  }

  /** One round: the newest fixes first, then one batch of the oldest. True when anything was sent. */
  private async round(producer: Producer): Promise<boolean> {
    const { outbox } = this.opts;
    this.dirty = false;
    // After a failure, commit the deletes Kafka acknowledged before anything else: the round
    // would otherwise find nothing new to send and call the card fine while they still wait.
    if (this.stateValue.disk.error !== null) outboxIo(() => outbox.flush());
    const newest = outboxIo(() => outbox.newestUnsent());
    if (newest.length > 0) await this.send(producer, newest, 'live');
    const backlog = capBytes(
      outboxIo(() => outbox.oldestUnsent(this.batchSize)),
      MAX_BATCH_BYTES,
    );
    if (backlog.length > 0) await this.send(producer, backlog, 'drain');
    return newest.length + backlog.length > 0;
  }

  private async send(producer: Producer, rows: PendingFix[], kind: Kind): Promise<void> {
    const messages: Message[] = rows.map((r) => ({ key: r.deviceId, value: wireValue(r) }));
    this.bucket = kind;
    if (kind === 'live') this.stats.liveRequests++;
    else this.stats.drainRequests++;
    await producer.send({
      topic: this.opts.topic,
      messages,
      acks: -1,
      // A lone live fix gains nothing from gzip (its header costs more than it saves).
      compression: rows.length >= 8 ? CompressionTypes.GZIP : CompressionTypes.None,
    });
    this.stateValue.lastAckAt = Date.now();
    this.stateValue.lastAckMono = bootMonotonicMs();
    // Kafka answered, whatever the outbox does next.
    this.kafkaAnswered();
    outboxIo(() => this.opts.outbox.markSent(rows));
    if (kind === 'live') this.stats.liveFixes += rows.length;
    else this.stats.drainFixes += rows.length;
  }

  private countBytes(n: number): void {
    if (this.bucket === 'live') this.stats.liveBytes += n;
    else this.stats.drainBytes += n;
  }

  private async connectedProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Retries stay finite so a dead network surfaces here; see the note on new producers above.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.producer = producer;
    await producer.connect();
    return producer;
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }

  private kafkaAnswered(): void {
    if (this.stateValue.attempt > 0 || !this.stateValue.connected) this.setConnected(true, null);
  }

  /** The outbox failed (`error`) or works again (null): one line for each change, not per retry. */
  private setDisk(error: string | null): void {
    const d = this.stateValue.disk;
    if (error === null) {
      this.opts.log.info(
        { failedSince: d.since, attempts: this.diskAttempt },
        'sender: the outbox is writable again',
      );
      d.error = null;
      d.since = null;
      this.diskAttempt = 0;
    } else {
      if (d.error === null) {
        d.since = Date.now();
        this.opts.log.error(
          { err: error },
          'sender: the outbox failed (local disk, not Kafka): what Kafka acknowledged stays acknowledged and is deleted once the outbox works',
        );
      }
      d.error = error;
      d.lastError = error;
      d.lastErrorAt = Date.now();
      d.failures++;
    }
    for (const l of this.listeners) l(this.state);
  }

  private setConnected(connected: boolean, error: string | null): void {
    const s = this.stateValue;
    const changed = s.connected !== connected;
    if (changed) s.since = Date.now();
    s.connected = connected;
    if (connected) {
      if (changed || s.attempt > 0)
        this.opts.log.info({ afterAttempts: s.attempt }, 'sender: connected to Kafka');
      s.attempt = 0;
    } else {
      s.attempt++;
      s.lastError = error;
      // One warning when the link goes down, then quiet: offline is normal on a bike.
      if (changed || s.attempt === 1)
        this.opts.log.warn({ err: error }, 'sender: Kafka unreachable, collecting offline');
    }
    for (const l of this.listeners) l(this.state);
  }

  private waitForWork(ms: number, wakeOnAppend = true): Promise<void> {
    if (this.stopping || (wakeOnAppend && this.dirty)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = wakeOnAppend ? done : () => this.stopping && done();
    });
  }
}

/** The longest prefix of `rows` whose bodies fit in `max` bytes (at least one row). */
export function capBytes(rows: PendingFix[], max: number): PendingFix[] {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += rows[i]!.body.length + rows[i]!.deviceId.length;
    if (total > max && i > 0) return rows.slice(0, i);
  }
  return rows;
}

/** The message value: the stored record, with droppedThrough added when the outbox dropped fixes. */
export function wireValue(r: PendingFix): Buffer {
  if (r.droppedThrough <= 0 || r.droppedThrough >= r.seq) return r.body;
  return encodeFix({ ...decodeFix(r.body), droppedThrough: r.droppedThrough });
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== e.message ? `${e.message}: ${cause.message}` : e.message;
}
