// Warnings about skipped input, at most one per kind per interval: a receiver spewing binary
// at 115200 baud must not fill the Pi's SD card through journald. The first occurrence is
// logged at once; later ones are counted and the count goes out with the next logged one.
import type { Logger } from '../../shared/log.js';

export class RateLimitedWarn {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, msg: string, extra: Record<string, unknown> = {}): void {
    const t = this.now();
    const s = this.last.get(kind);
    if (s && t - s.at < this.everyMs) {
      s.suppressed++;
      return;
    }
    this.log.warn({ kind, suppressedSinceLast: s?.suppressed ?? 0, ...extra }, msg);
    this.last.set(kind, { at: t, suppressed: 0 });
  }
}
