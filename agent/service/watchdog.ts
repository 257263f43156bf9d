// Feeds the systemd watchdog only while the pipeline is healthy. A hung event loop sends
// nothing (the timer never runs); a pipeline that is alive but broken sends nothing either,
// because every tick asks the health check first, and systemd restarts the service.
import type { Logger } from '../../shared/log.js';
import type { SystemdNotifier } from './notify.js';

/** null when healthy, else why not (logged once per change). */
export type HealthCheck = () => string | null;

export function startWatchdog(notifier: SystemdNotifier, health: HealthCheck, log?: Logger): () => void {
  const interval = notifier.watchdogMs;
  if (interval === undefined) return () => undefined;
  let lastProblem: string | null = null;
  const tick = () => {
    const problem = health();
    if (problem !== lastProblem) {
      if (problem) log?.error({ problem }, 'unhealthy: not feeding the watchdog');
      else if (lastProblem) log?.info('healthy again: feeding the watchdog');
      lastProblem = problem;
    }
    if (!problem) void notifier.watchdog();
  };
  // Half the interval, as sd_watchdog_enabled(3) recommends, so one late tick is not fatal.
  const timer = setInterval(tick, Math.max(50, interval / 2));
  tick();
  return () => clearInterval(timer);
}
