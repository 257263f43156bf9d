// Failed dashboard logins per client address, so the login form (and /?token=) cannot be used to
// guess INGEST_TOKEN. After `maxFailures` wrong tokens within `windowMs` of the first one, the
// address is refused with 429 for the rest of that window, whatever it sends: while blocked the
// answer must not tell a right token from a wrong one. A right token is not counted and clears
// the address (only someone holding the token can do that), so operators are never slowed down.
//
// Memory is bounded: at most `maxClients` addresses are remembered; past that the one whose
// window started first is forgotten, which can only let that address try again sooner.
// IPv6 clients are counted per /64, the block a single host or customer usually gets; otherwise
// one machine could take a fresh address for every few guesses.
//
// Own code rather than @fastify/rate-limit: that plugin counts every request in an onRequest hook
// (successful logins would use up the budget too) and has no way to count failures only.

export interface LoginLimitOptions {
  /** Wrong tokens allowed per address and window (default 5). */
  maxFailures: number;
  /** The window starts at an address's first failure (default 60 s). */
  windowMs: number;
  /** Most addresses remembered at once (default 10,000). */
  maxClients: number;
}

export const LOGIN_LIMIT_DEFAULTS: LoginLimitOptions = {
  maxFailures: 5,
  windowMs: 60_000,
  maxClients: 10_000,
};

export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; until: number }>();
  private readonly o: LoginLimitOptions;

  constructor(
    options: Partial<LoginLimitOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.o = { ...LOGIN_LIMIT_DEFAULTS, ...options };
  }

  /** Whole seconds the address must wait before its next attempt; 0 when it may try now. */
  retryAfterS(ip: string): number {
    const key = clientKey(ip);
    const e = this.failures.get(key);
    if (!e) return 0;
    const left = e.until - this.now();
    if (left <= 0) {
      this.failures.delete(key);
      return 0;
    }
    return e.count >= this.o.maxFailures ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a wrong token; returns true when this one used up the address's allowance. */
  failed(ip: string): boolean {
    const key = clientKey(ip);
    const t = this.now();
    let e = this.failures.get(key);
    if (!e || e.until <= t) {
      // Re-inserted, so the Map's order stays the order in which windows started.
      this.failures.delete(key);
      if (this.failures.size >= this.o.maxClients) {
        const oldest = this.failures.keys().next();
        if (!oldest.done) this.failures.delete(oldest.value);
      }
      e = { count: 0, until: t + this.o.windowMs };
      this.failures.set(key, e);
    }
    e.count++;
    return e.count === this.o.maxFailures;
  }

  succeeded(ip: string): void {
    this.failures.delete(clientKey(ip));
  }

  /** Addresses remembered now (for tests and curiosity). */
  get size(): number {
    return this.failures.size;
  }
}

/** IPv4 (also IPv4-mapped IPv6) as it is; other IPv6 addresses by their first 64 bits. */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
