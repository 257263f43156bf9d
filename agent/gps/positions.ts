// Source -> GPS events for the agent: at most one fix per GNSS second, plus "no fix" status.
//
//   for await (const ev of gpsEvents(source, { log })) {
//     if (ev.kind === 'fix') outbox.add(ev.position); else status.noFix(ev.reason);
//   }
//
// Epochs close when the next time of fix arrives, or when the receiver has said nothing for
// idleFlushMs after its burst (so a 1 Hz fix is not held back a second waiting for the next).
// One fix a second: a 5 or 10 Hz receiver yields the FIRST epoch with a fix in each UTC
// second (normally the one on the whole second; if that one has no fix, the next that does).
import type { Position } from '../../shared/fix.js';
import { PositionDecoder, type PositionDecoderOptions } from './decoder.js';
import type { EpochResult } from './epoch.js';
import type { NmeaLine } from './source.js';

export type GpsEvent =
  | { kind: 'fix'; position: Position; receivedAt: number }
  | { kind: 'nofix'; reason: 'no fix' | 'no position' | 'no date'; time?: number; receivedAt: number };

export interface GpsEventsOptions extends PositionDecoderOptions {
  /** Close the open epoch after this long without a sentence; default 300 ms. */
  idleFlushMs?: number;
  /** The decoder to use (to read its counters); default a new one. */
  decoder?: PositionDecoder;
}

/** Keeps the first fix of each UTC second and at most one no-fix status a second. */
/** A fix time further back than this (s) is a receiver clock that started over, not a repeat. */
const MAX_STEP_BACK_S = 3600;

export class OnePerSecond {
  private lastFixSecond: number | undefined;
  private lastNoFixSecond: number | undefined;

  accept(r: EpochResult): boolean {
    // Seconds of the day when the date is unknown: still one status a second.
    const second = Math.floor((r.kind === 'fix' ? r.position.time : (r.time ?? r.epoch.tod)) / 1000);
    if (r.kind === 'fix') {
      // One fix per GNSS second, in time order: a second already passed (a repeated or
      // backwards time, 12:00:01 again after 12:00:02) is not stored as a new fix; it made two
      // positions for one second and a hop back and forth in the trips. A jump back of more than
      // an hour is the receiver's clock starting over, followed.
      const behind = this.lastFixSecond === undefined ? -1 : this.lastFixSecond - second;
      if (behind >= 0 && behind < MAX_STEP_BACK_S) return false;
      this.lastFixSecond = second;
      return true;
    }
    if (second === this.lastFixSecond || second === this.lastNoFixSecond) return false;
    this.lastNoFixSecond = second;
    return true;
  }
}

const IDLE = Symbol('idle');

export async function* gpsEvents(
  source: AsyncIterable<NmeaLine>,
  opts: GpsEventsOptions = {},
): AsyncGenerator<GpsEvent> {
  const decoder = opts.decoder ?? new PositionDecoder(opts);
  const idleMs = opts.idleFlushMs ?? 300;
  const gate = new OnePerSecond();
  const it = source[Symbol.asyncIterator]();
  let lastReceivedAt = Date.now();
  // receivedAt of an epoch: when its last sentence arrived.
  const toEvent = (r: EpochResult | undefined, receivedAt: number): GpsEvent | undefined => {
    if (!r || !gate.accept(r)) return undefined;
    return r.kind === 'fix'
      ? { kind: 'fix', position: r.position, receivedAt }
      : { kind: 'nofix', reason: r.reason, time: r.time, receivedAt };
  };
  let ended = false;
  let pending: Promise<IteratorResult<NmeaLine>> | undefined;
  try {
    for (;;) {
      pending ??= it.next();
      let next: IteratorResult<NmeaLine> | typeof IDLE;
      if (decoder.hasOpenEpoch) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<typeof IDLE>((resolve) => {
          timer = setTimeout(() => resolve(IDLE), idleMs);
        });
        next = await Promise.race([pending, idle]);
        clearTimeout(timer);
      } else {
        next = await pending;
      }
      if (next === IDLE) {
        const ev = toEvent(decoder.flush(), lastReceivedAt);
        if (ev) yield ev;
        continue;
      }
      pending = undefined;
      if (next.done) {
        ended = true;
        break;
      }
      const before = lastReceivedAt;
      lastReceivedAt = next.value.receivedAt;
      const ev = toEvent(decoder.push(next.value.line), before);
      if (ev) yield ev;
    }
    const ev = toEvent(decoder.flush(), lastReceivedAt);
    if (ev) yield ev;
  } finally {
    // The consumer stopped early: let the source know (closes a serial port or replay).
    if (!ended) await it.return?.();
  }
}
