// The clock for durations, timeouts and rates: milliseconds that only ever move forward at the
// pace of real time. Date.now() is the wall clock, and on a Raspberry Pi (no RTC) it jumps: it
// boots at fake-hwclock's last saved time, hours to months behind, and NTP steps it forward once
// the network is up; an administrator or a bad time source can step it back. A duration taken on
// the wall clock across such a step is off by the whole step (a sender "stuck for 30 days" one
// second after it last moved). performance.now() reads CLOCK_MONOTONIC, which steps never touch.
// Use Date.now() only for moments shown to people or stored (startedAt, lastAckAt).

/** Milliseconds on the monotonic clock; meaningful only as a difference within this process. */
export function monotonicMs(): number {
  return performance.now();
}

/**
 * Milliseconds on CLOCK_MONOTONIC itself (process.hrtime), which every process of one boot
 * shares: a moment one process stores (with its boot id) that another, `agent status`, can
 * take an age from, immune to clock steps. Not comparable across a reboot.
 */
export function bootMonotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
