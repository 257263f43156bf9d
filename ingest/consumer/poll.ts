// Runs a task now and then every intervalMs until stopped, for figures that have to be fetched
// (consumer lag from the broker, seq gaps from the database). A tick that finds the previous one
// still running is skipped, so a slow broker or database never has calls piling up on it; a
// failure is logged and the next tick tries again. The timer does not keep the process alive.
import type { Logger } from '../../shared/log.js';

/** Returns the stop function. `what` completes the warning: "could not <what>". */
export function pollEvery(
  intervalMs: number,
  what: string,
  log: Logger,
  task: () => Promise<void>,
): () => void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await task();
    } catch (e) {
      log.warn({ err: e }, `could not ${what}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}
