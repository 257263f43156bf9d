// kafkajs logs through the ingest's pino logger, so its lines are JSON like ours, at its levels,
// except the chatter of a normal rebalance. When a member joins or leaves (a deploy, a second
// ingest, a restart), every other member's next heartbeat or fetch is answered
// REBALANCE_IN_PROGRESS, and kafkajs logs that response at ERROR ("Response Heartbeat ...") and
// its re-join at WARN. That is the group working as designed; at error level it paged whoever
// watches the logs at each deploy. The re-join goes out at info (one line a member a rebalance),
// the responses (one a heartbeat until then) at debug. A member that keeps failing to re-join is
// still seen: the runner logs its crash, and /healthz names the group.
import { kafkaLogCreator as creator } from '../../shared/kafka-log.js';
import type { Logger } from '../../shared/log.js';

/** kafkajs's text for REBALANCE_IN_PROGRESS, and the start of its runner's "re-joining" line. */
const REBALANCING = /^The group is rebalancing/;

export function kafkaLogCreator(log: Logger) {
  return creator(log, (level, message, fields) => {
    if (REBALANCING.test(message)) return 'info';
    if (REBALANCING.test(String(fields['error'] ?? ''))) return 'debug';
    // kafkajs's INFO and DEBUG (not asked for: the client is made at WARN) stay at debug.
    return level === 'error' || level === 'warn' ? level : 'debug';
  });
}
