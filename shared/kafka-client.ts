// A kafkajs client, with two kafkajs 2.2.4 faults mended: the idle timer loop of its request queue
// (below) and its consumer heartbeat clock, which a wall-clock step back stopped (further down).
//
// Each kafkajs connection has a request queue whose scheduleCheckPendingRequests() arms a timer
// even when nothing is pending and nothing is throttled: throttledUntil starts at -1, so the delay
// is negative (Node runs it after 1 ms), and the check it runs arms the next one. Every open
// connection so wakes its process a thousand times a second for nothing (kafkajs issues #1556,
// #1604, #1704; the fixes, PRs #1667 and #1768, are not merged, and kafkajs has had no release
// since 2.2.4). Measured on an idle `ingest run` (three groups, no traffic): the loop is the
// largest part of its idle CPU; on the agent at 1 Hz, of its CPU.
//
// The check is needed only for requests waiting in the queue: a throttled one (the broker asked
// for a pause) waits for the throttle to end, one waiting for an in-flight slot is sent when a
// response frees it (fulfillRequest runs the check). So the replacement arms the timer only when a
// request is pending, for the throttle's end or kafkajs's own 10 ms retry: what kafkajs did in
// that case, unchanged. The queue class is imported, not looked up at run time: from sources it
// is the module kafkajs itself required (one CommonJS cache), and in the agent's bundle
// (agent/build.ts) esbuild links the import to the copy kafkajs uses, where a run-time require()
// would patch a second copy from node_modules and leave the bundled one looping. A kafkajs whose
// queue no longer looks like 2.2.4's is left alone, and test/kafka-client.test.ts fails so that
// an upgrade looks here again.
import { Kafka, type KafkaConfig } from 'kafkajs';
import ConsumerGroupClass from 'kafkajs/src/consumer/consumerGroup.js';
import RequestQueueClass from 'kafkajs/src/network/requestQueue/index.js';
import { monotonicMs } from './monotonic.js';

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (src/network/requestQueue/index.js). */
const RETRY_MS = 10;

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** Whether the queue's timer is replaced: false when kafkajs's queue is not the one expected. */
export const requestQueuePatched: boolean = patchRequestQueue();

function patchRequestQueue(): boolean {
  const proto = (RequestQueueClass as { prototype?: Partial<RequestQueue> } | undefined)?.prototype;
  if (
    typeof proto?.scheduleCheckPendingRequests !== 'function' ||
    typeof proto.checkPendingRequests !== 'function' ||
    !String(proto.scheduleCheckPendingRequests).includes('throttleCheckTimeoutId')
  )
    return false;
  proto.scheduleCheckPendingRequests = function (this: RequestQueue) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const throttled = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttled > 0 ? throttled : RETRY_MS,
    );
  };
  return true;
}

/** Whether the consumer's heartbeat clock is monotonic: false when kafkajs's class is not 2.2.4's. */
export const heartbeatClockPatched: boolean = patchHeartbeatClock();

// kafkajs sends a heartbeat only when Date.now() >= lastRequest + interval, lastRequest being the
// Date.now() of the last one. A wall clock stepped back (a VM resumed or migrated, chrony's
// makestep, an operator setting the date) so stopped the heartbeats for the length of the step:
// the coordinator dropped the member after its session timeout (seen with a -1d step: "The
// coordinator is not aware of this member"). lastRequest becomes an accessor: what is stored is
// the moment on the monotonic clock, and what kafkajs reads is that moment translated to the
// current wall clock, so its comparison measures real time whatever the steps.
const LAST_REQUEST_MONO = Symbol('lastRequestMono');
function patchHeartbeatClock(): boolean {
  const proto = (ConsumerGroupClass as { prototype?: object } | undefined)?.prototype as
    | Record<PropertyKey, unknown>
    | undefined;
  if (!proto || typeof proto['heartbeat'] !== 'function' || 'lastRequest' in proto) return false;
  Object.defineProperty(proto, 'lastRequest', {
    configurable: true,
    get(this: Record<PropertyKey, number>) {
      return Date.now() - (monotonicMs() - (this[LAST_REQUEST_MONO] ?? monotonicMs()));
    },
    set(this: Record<PropertyKey, number>, wall: number) {
      this[LAST_REQUEST_MONO] = monotonicMs() - (Date.now() - wall);
    },
  });
  return true;
}

/** new Kafka(config), from the patched kafkajs: the one constructor our programs use. */
export function kafkaClient(config: KafkaConfig): Kafka {
  return new Kafka(config);
}
