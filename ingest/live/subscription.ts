// One live subscriber (an SSE client) with coalescing and back-pressure.
//
// Updates are kept in `pending`, at most one per device: a newer position of a device replaces
// its unsent older one. So a slow client costs at most one entry per device it watches, never
// an ever-growing queue, and when it catches up it gets where each rider is now, not a replay.
// Flushing happens once per event-loop turn, so a consumer batch of many fixes becomes a few
// large socket writes instead of one write per fix; when the socket's buffer is full we stop
// writing and wait for 'drain', leaving the rest pending (still coalescing).
import { formatSse, type LiveEvent } from './event.js';

/** Where a subscriber's text goes: an SSE response in production, anything stream-like in tests. */
export interface EventOutput {
  /** Returns false when the receiver is not keeping up; call onDrain before writing more. */
  write(chunk: string): boolean;
  onceDrain(cb: () => void): void;
  /** Bytes written but not yet taken by the receiver (held in this process). */
  bufferedBytes(): number;
}

export type LiveFilter =
  | { kind: 'device'; deviceId: string }
  | { kind: 'area'; contains: (lon: number, lat: number) => boolean };

/** Writes are grouped into chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024;

export class Subscription {
  private readonly pending = new Map<string, LiveEvent>();
  private scheduled = false;
  private blocked = false;
  private closed = false;
  /** Events replaced in `pending` before they were sent (a slow client or a burst). */
  coalesced = 0;
  sent = 0;
  /** Since when (ms) the client has been too slow to take more, or 0 when it is keeping up. */
  blockedSince = 0;

  constructor(
    readonly filter: LiveFilter,
    private readonly out: EventOutput,
    private readonly onClose: (s: Subscription) => void,
  ) {}

  get bufferedBytes(): number {
    return this.out.bufferedBytes();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  offer(event: LiveEvent): void {
    if (this.closed) return;
    const id = event.fix.deviceId;
    if (this.pending.has(id)) this.coalesced++;
    this.pending.set(id, event);
    this.schedule();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.onClose(this);
  }

  private schedule(): void {
    if (this.scheduled || this.blocked) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.blocked) return;
    let chunk = '';
    for (const [id, event] of this.pending) {
      this.pending.delete(id);
      chunk += formatSse(event);
      this.sent++;
      if (chunk.length >= CHUNK_CHARS) {
        const more = this.out.write(chunk);
        chunk = '';
        if (!more) {
          this.waitForDrain();
          return;
        }
      }
    }
    if (chunk !== '' && !this.out.write(chunk)) this.waitForDrain();
  }

  private waitForDrain(): void {
    this.blocked = true;
    this.blockedSince = Date.now();
    this.out.onceDrain(() => {
      this.blocked = false;
      this.blockedSince = 0;
      if (this.pending.size > 0) this.schedule();
    });
  }
}
