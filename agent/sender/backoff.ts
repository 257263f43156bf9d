// Retry delays for an unreachable broker: exponential, capped, with jitter so a fleet that lost
// the network together does not come back in lockstep and hammer the cluster.
export interface BackoffOptions {
  /** First delay, ms. */
  baseMs: number;
  /** Largest delay, ms. */
  capMs: number;
  /** 0..1 random source, injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 30_000 };

/**
 * Delay before retry number `attempt` (0 = first retry): "equal jitter", half fixed and half
 * random, so the delay grows as it should but never collapses to zero.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
