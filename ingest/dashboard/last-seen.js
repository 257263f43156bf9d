// When the server last heard from each device, and so whether it is online: one notion for the
// devices table, the online/offline KPIs and the map's marker colours.
//
// Times are kept on the server's clock (the live stream's `receivedAt`, /api/devices' `lastSeenMs`)
// and compared with the browser's clock through the skew measured against /api/devices' `now`.
// A position the stream replays on (re)connect keeps the time the server first heard it: a rider
// quiet for ten minutes stays offline after a page load, as /api/devices says, on every screen.

/** Heard from within this long: a green marker; older but still online: amber. */
export const FRESH_MS = 15_000;

export class LastSeen {
  constructor({ offlineAfterS }) {
    this.offlineAfterMs = offlineAfterS * 1000;
    /** Browser clock minus server clock, ms (0 until the first /api/devices answer). */
    this.skew = 0;
    /** Device id -> server ms it was last heard from. */
    this.heardAt = new Map();
  }

  /**
   * The server's clock read `serverNow` between local times `sent` and `answered` (a request's
   * start and its answer's headers): the skew is taken at the midpoint.
   */
  sync(serverNow, sent, answered = sent) {
    if (Number.isFinite(serverNow)) this.skew = (sent + answered) / 2 - serverNow;
  }

  setOfflineAfter(offlineAfterS) {
    if (offlineAfterS > 0) this.offlineAfterMs = offlineAfterS * 1000;
  }

  /** The server's clock now, as well as the browser can tell. */
  serverNow(now = Date.now()) {
    return now - this.skew;
  }

  /** The server heard from `id` at `serverMs`; an older time than the one known changes nothing. */
  heard(id, serverMs) {
    const t = Number.isFinite(serverMs) ? serverMs : this.serverNow();
    if (!(t <= (this.heardAt.get(id) ?? Number.NEGATIVE_INFINITY))) this.heardAt.set(id, t);
  }

  /** When `id` was last heard from, in browser ms (undefined: never). */
  localTime(id) {
    const t = this.heardAt.get(id);
    return t === undefined ? undefined : t + this.skew;
  }

  /** Ms since `id` was last heard from, on the browser's clock at `now` (Infinity: never). */
  age(id, now = Date.now()) {
    const t = this.localTime(id);
    return t === undefined ? Number.POSITIVE_INFINITY : now - t;
  }

  online(id, now = Date.now()) {
    return this.age(id, now) <= this.offlineAfterMs;
  }

  /** 'fresh' (heard within FRESH_MS), 'stale' (still online) or 'offline'. */
  state(id, now = Date.now()) {
    const age = this.age(id, now);
    if (age > this.offlineAfterMs) return 'offline';
    return age > FRESH_MS ? 'stale' : 'fresh';
  }
}
