// kafkajs logs through the ingest's pino logger, so its lines are JSON like ours, at its levels,
// except the chatter of a normal rebalance. When a member joins or leaves (a deploy, a second
// ingest, a restart), every other member's next heartbeat or fetch is answered
// REBALANCE_IN_PROGRESS, and kafkajs logs that response at ERROR ("Response Heartbeat ...") and
// its re-join at WARN. That is the group working as designed; at error level it paged whoever
// watches the logs at each deploy. The re-join goes out at info (one line a member a rebalance),
// the responses (one a heartbeat until then) at debug. A member that keeps failing to re-join is
// still seen: the runner logs its crash, and /healthz names the group.
import { type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from '../../shared/log.js';

/** kafkajs's text for REBALANCE_IN_PROGRESS, and the start of its runner's "re-joining" line. */
const REBALANCING = /^The group is rebalancing/;

export function kafkaLogCreator(log: Logger) {
  const k = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as Record<string, unknown>;
      const text = String(message);
      if (REBALANCING.test(text)) k.info(rest, text);
      else if (REBALANCING.test(String(rest['error'] ?? ''))) k.debug(rest, text);
      else if (level <= logLevel.ERROR) k.error(rest, text);
      else if (level <= logLevel.WARN) k.warn(rest, text);
      else k.debug(rest, text);
    };
}
