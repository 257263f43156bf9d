// The one interface every NMEA source offers the agent pipeline (serial port, replay file):
// an async iterable of checked sentences, a state with change events, and counters.
//
//   const source = openSerialSource({ path, baudRate });   // or openReplaySource(...)
//   source.on('state', (state, detail) => ...);
//   for await (const { line, receivedAt } of source) decoder.push(line);
//   await source.close();                                   // ends the for-await
//
// Iteration ends when the source is closed, or when a replay reaches the end of its file.
import { EventEmitter } from 'node:events';
import { type LineCounters, newLineCounters } from './line-filter.js';

/** One NMEA sentence with a good checksum, and when it arrived (the Pi's clock; not a fix time). */
export interface NmeaLine {
  line: string;
  receivedAt: number;
}

/**
 * connecting: opening the port. connected: open and bytes arriving. silent: open but no byte
 * for the silence timeout (the port is being reopened). gps disconnected: the port cannot be
 * opened or went away (unplugged). ended: a replay reached its end. closed: close() was called.
 */
export type SourceState = 'connecting' | 'connected' | 'silent' | 'gps disconnected' | 'ended' | 'closed';

export interface SourceCounters extends LineCounters {
  /** Bytes read from the port or file. */
  bytes: number;
  /** Successful opens of the port (1 + reconnects). */
  opens: number;
  /** Times the receiver went silent. */
  silences: number;
  /** Times an open port went away: unplugged, an I/O error, the device node gone. */
  disconnects: number;
  /**
   * Open attempts that failed on a path that exists (permissions, busy, not a tty): a port that
   * will not open is retried with backoff, and each retry is no new cable problem.
   */
  failedOpens: number;
  /** Checks that found no device node at the path, every presenceCheckMs while unplugged. */
  absentChecks: number;
  /** Sentences dropped because the consumer fell more than the queue limit behind. */
  queueDrops: number;
}

export interface NmeaSource extends AsyncIterable<NmeaLine> {
  /** What this source reads, for logs and status: a device path or "replay:FILE". */
  readonly name: string;
  readonly state: SourceState;
  /** Why the state is what it is (the last error, the silence timeout...), if anything. */
  readonly stateDetail: string | undefined;
  readonly counters: Readonly<SourceCounters>;
  /**
   * Dates before this are GPS week-rollover victims (EpochAssembler's notBefore): set by a
   * receiver in service, unset for a capture, whose dates are as they were recorded.
   */
  readonly notBefore?: number | undefined;
  on(event: 'state', listener: (state: SourceState, detail: string | undefined) => void): this;
  off(event: 'state', listener: (state: SourceState, detail: string | undefined) => void): this;
  close(): Promise<void>;
}

export function newSourceCounters(): SourceCounters {
  return {
    ...newLineCounters(),
    bytes: 0,
    opens: 0,
    silences: 0,
    disconnects: 0,
    failedOpens: 0,
    absentChecks: 0,
    queueDrops: 0,
  };
}

/**
 * Shared plumbing: a bounded queue between the producer (port events) and the consumer's
 * for-await, and the state field. One consumer at a time.
 */
export abstract class QueueSource extends EventEmitter implements NmeaSource {
  abstract readonly name: string;
  readonly counters: SourceCounters = newSourceCounters();
  private _state: SourceState = 'connecting';
  private _detail: string | undefined;
  private queue: NmeaLine[] = [];
  private waiter: ((r: IteratorResult<NmeaLine>) => void) | undefined;
  private roomWaiter: { limit: number; resolve: () => void } | undefined;
  protected done = false;

  constructor(private readonly maxQueue = 10_000) {
    super();
  }

  get state(): SourceState {
    return this._state;
  }

  get stateDetail(): string | undefined {
    return this._detail;
  }

  protected setState(state: SourceState, detail?: string): void {
    if (state === this._state && detail === this._detail) return;
    this._state = state;
    this._detail = detail;
    this.emit('state', state, detail);
  }

  protected enqueue(line: NmeaLine): void {
    if (this.done) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: line, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      // The consumer is stuck; keep the newest positions, they are the ones worth having.
      this.queue.shift();
      this.counters.queueDrops++;
    }
    this.queue.push(line);
  }

  /** For producers that can wait (replay): resolves once the queue is below `limit`. */
  protected waitForRoom(limit: number): Promise<void> {
    if (this.queue.length < limit || this.done) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiter = { limit, resolve };
    });
  }

  private wakeProducer(): void {
    const r = this.roomWaiter;
    if (r && (this.queue.length < r.limit || this.done)) {
      this.roomWaiter = undefined;
      r.resolve();
    }
  }

  /** No more lines: the iteration ends once the queue is drained. */
  protected finish(): void {
    this.done = true;
    this.wakeProducer();
    const w = this.waiter;
    if (w && this.queue.length === 0) {
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  abstract close(): Promise<void>;

  [Symbol.asyncIterator](): AsyncIterator<NmeaLine> {
    return {
      next: () => {
        const line = this.queue.shift();
        this.wakeProducer();
        if (line) return Promise.resolve({ value: line, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
