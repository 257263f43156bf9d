// A capture file played back as if a receiver were sending it, through the same framer,
// filter and counters as the serial port.
// Pacing follows the file's own epochs: when the time of fix (RMC, GGA, ...) moves on, the
// replay waits that long divided by `speed`; speed 0 plays as fast as the consumer takes it.
// A jump backwards (a capture spliced together, or the loop restarting) counts as one second;
// a gap longer than maxGapMs is cut to maxGapMs, so a damaged time cannot stall a replay.
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.js';
import { DAY_MS } from './epoch.js';
import { createFramer } from './framer.js';
import { timeOfFix } from './sentence.js';
import { QueueSource } from './source.js';

export interface ReplayOptions {
  file: string;
  /** 1 = real time (default), N = N times faster, 0 = as fast as possible. */
  speed?: number;
  /** Start again at the end of the file (until closed). */
  loop?: boolean;
  /** Longest wait for one gap between epochs, in file time; default 60 s. */
  maxGapMs?: number;
  log?: Logger;
}

/** How many sentences may wait for the consumer before the replay itself waits. */
const READ_AHEAD = 256;
const BACKWARD_STEP_MS = 1000;

export class ReplaySource extends QueueSource {
  readonly name: string;
  private readonly abort = new AbortController();
  private readonly speed: number;
  private readonly maxGapMs: number;
  private finished: Promise<void> | undefined;
  /** Passes over the file completed. */
  passes = 0;
  /** A pass over the file found no NMEA sentence (it ended the replay). */
  empty = false;

  constructor(private readonly opts: ReplayOptions) {
    super(READ_AHEAD * 2);
    this.name = `replay:${opts.file}`;
    this.speed = opts.speed ?? 1;
    this.maxGapMs = opts.maxGapMs ?? 60_000;
    if (!(this.speed >= 0) || !Number.isFinite(this.speed))
      throw new RangeError(`replay speed ${opts.speed} is not >= 0`);
  }

  start(): this {
    this.finished = this.run().catch((e: unknown) => {
      if (this.abort.signal.aborted) return;
      const why = e instanceof Error ? e.message : String(e);
      this.opts.log?.error({ file: this.opts.file, err: why }, 'replay failed');
      this.setState('gps disconnected', why);
      this.finish();
    });
    return this;
  }

  private async run(): Promise<void> {
    let lastTod: number | undefined;
    let due = performance.now();
    let lines = 0;
    do {
      const before = lines;
      this.setState('connected', this.name);
      const framer = createFramer(this.counters, this.opts.log);
      const file = createReadStream(this.opts.file);
      file.on('data', (chunk) => {
        this.counters.bytes += chunk.length;
      });
      // pipe() forwards data but not errors: an unreadable file must fail the replay.
      file.on('error', (e) => framer.output.destroy(e));
      file.pipe(framer.input);
      // close() must not wait for a file that never yields more (a FIFO, a stalled disk).
      const stop = () => framer.output.destroy();
      this.abort.signal.addEventListener('abort', stop, { once: true });
      this.counters.opens++;
      try {
        for await (const raw of framer.output as AsyncIterable<Buffer>) {
          if (this.abort.signal.aborted) return;
          const line = framer.accept(raw);
          if (!line) continue;
          const tod = timeOfFix(line);
          if (tod !== undefined && tod !== lastTod) {
            if (lastTod !== undefined && this.speed > 0) {
              due += this.gap(tod - lastTod) / this.speed;
              const wait = due - performance.now();
              if (wait > 0) await sleep(wait, undefined, { signal: this.abort.signal });
              else due = performance.now();
            }
            lastTod = tod;
          }
          await this.waitForRoom(READ_AHEAD);
          if (this.abort.signal.aborted) return;
          this.enqueue({ line, receivedAt: Date.now() });
          lines++;
        }
      } finally {
        this.abort.signal.removeEventListener('abort', stop);
        file.destroy();
        framer.input.destroy();
      }
      this.passes++;
      if (lines === before) {
        // Looping over a file with no sentence in it would spin a core forever, giving nothing.
        this.opts.log?.error(
          { file: this.opts.file },
          'replay: no NMEA sentence in the file; nothing to replay',
        );
        this.empty = true;
        this.setState('ended', `no NMEA sentence in ${this.opts.file}`);
        this.finish();
        return;
      }
    } while (this.opts.loop && !this.abort.signal.aborted);
    this.setState('ended', `${this.passes} pass(es) over ${this.opts.file}`);
    this.finish();
  }

  private gap(delta: number): number {
    let d = delta;
    if (d < 0 && d + DAY_MS <= this.maxGapMs) d += DAY_MS; // midnight
    if (d <= 0) return BACKWARD_STEP_MS;
    return Math.min(d, this.maxGapMs);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.abort.abort();
    this.finish();
    await this.finished;
    this.setState('closed');
  }
}

export function openReplaySource(opts: ReplayOptions): ReplaySource {
  return new ReplaySource(opts).start();
}
