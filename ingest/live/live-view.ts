// The `live` consumer group's state: the newest fix of every device, in memory, and the
// subscribers that are pushed each change.
//
// It is a sink for the consumer runner (handleBatch). Nothing here is durable: after a restart the
// group resumes after its committed offsets, so devices quiet since then would be missing; the
// server restores each device's last stored fix from the database at start (restore()), and the
// group's fixes take over from there. A fix older than the one held (backlog, redelivery, a
// restore racing the group) is ignored, so replays and restores are harmless.
import type { Fix } from '../../shared/fix.js';
import type { LiveEvent } from './event.js';
import { isNewer } from './order.js';
import { type EventOutput, type LiveFilter, Subscription } from './subscription.js';

export interface LiveStats {
  devices: number;
  subscribers: number;
  /** Fixes accepted as a device's newest position. */
  accepted: number;
  /** Fixes ignored because the device already had a newer one (backlog, redelivery). */
  stale: number;
  /** Events replaced before a subscriber took them, summed over current subscribers. */
  coalesced: number;
  /** Subscribers currently not keeping up. */
  slowSubscribers: number;
  /** Largest number of unsent events held for one subscriber now. */
  maxPending: number;
  /** Largest number of bytes written to one subscriber's socket but not yet sent, now. */
  maxBufferedBytes: number;
}

export class LiveView {
  private readonly latest = new Map<string, LiveEvent>();
  private readonly deviceSubs = new Map<string, Set<Subscription>>();
  private readonly areaSubs = new Set<Subscription>();
  private accepted = 0;
  private stale = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The consumer runner's sink interface. Work is synchronous; the promise is for the runner. */
  handleBatch(fixes: readonly Fix[]): Promise<void> {
    const receivedAt = this.now();
    for (const fix of fixes) this.apply(fix, receivedAt);
    return Promise.resolve();
  }

  /**
   * Puts back positions known from elsewhere (the database at start), with the time they were
   * received, so a quiet device still shows as quiet. Older than what is held = ignored.
   */
  restore(entries: ReadonlyArray<{ fix: Fix; receivedAt: number }>): number {
    let n = 0;
    for (const e of entries) {
      if (!isNewer(e.fix, this.latest.get(e.fix.deviceId)?.fix)) continue;
      this.publish(e.fix, e.receivedAt, this.latest.get(e.fix.deviceId));
      n++;
    }
    return n;
  }

  /** The newest fix of one device, with when it arrived. */
  get(deviceId: string): LiveEvent | undefined {
    return this.latest.get(deviceId);
  }

  /** The newest fix of every device (GET /api/devices lists those the database lacks). */
  all(): IterableIterator<LiveEvent> {
    return this.latest.values();
  }

  /**
   * Adds a subscriber. It is offered the current position(s) right away, then every change.
   * Call close() on the result when the client goes away.
   */
  subscribe(filter: LiveFilter, out: EventOutput): Subscription {
    const sub = new Subscription(filter, out, (s) => this.remove(s));
    if (filter.kind === 'device') {
      let set = this.deviceSubs.get(filter.deviceId);
      if (!set) {
        set = new Set();
        this.deviceSubs.set(filter.deviceId, set);
      }
      set.add(sub);
      const cur = this.latest.get(filter.deviceId);
      if (cur) sub.offer(cur);
    } else {
      this.areaSubs.add(sub);
      for (const e of this.latest.values()) if (filter.contains(e.fix.lon, e.fix.lat)) sub.offer(e);
    }
    return sub;
  }

  stats(): LiveStats {
    const all = [...this.areaSubs, ...[...this.deviceSubs.values()].flatMap((s) => [...s])];
    return {
      devices: this.latest.size,
      subscribers: all.length,
      accepted: this.accepted,
      stale: this.stale,
      coalesced: all.reduce((n, s) => n + s.coalesced, 0),
      slowSubscribers: all.filter((s) => s.blockedSince > 0).length,
      maxPending: all.reduce((n, s) => Math.max(n, s.pendingCount), 0),
      maxBufferedBytes: all.reduce((n, s) => Math.max(n, s.bufferedBytes), 0),
    };
  }

  private apply(fix: Fix, receivedAt: number): void {
    const prev = this.latest.get(fix.deviceId);
    if (!isNewer(fix, prev?.fix)) {
      this.stale++;
      return;
    }
    this.accepted++;
    this.publish(fix, receivedAt, prev);
  }

  private publish(fix: Fix, receivedAt: number, prev: LiveEvent | undefined): void {
    const event: LiveEvent = { type: 'fix', fix, receivedAt };
    this.latest.set(fix.deviceId, event);
    const subs = this.deviceSubs.get(fix.deviceId);
    if (subs) for (const s of subs) s.offer(event);
    for (const s of this.areaSubs) {
      if (s.filter.kind !== 'area') continue;
      if (s.filter.contains(fix.lon, fix.lat)) s.offer(event);
      // It was on this subscriber's map and has now left the area: tell it to drop the marker.
      else if (prev && s.filter.contains(prev.fix.lon, prev.fix.lat)) s.offer({ ...event, type: 'leave' });
    }
  }

  private remove(s: Subscription): void {
    if (s.filter.kind === 'device') {
      const set = this.deviceSubs.get(s.filter.deviceId);
      set?.delete(s);
      if (set?.size === 0) this.deviceSubs.delete(s.filter.deviceId);
    } else {
      this.areaSubs.delete(s);
    }
  }
}
