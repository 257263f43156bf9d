// A kafkajs client, with kafkajs 2.2.4's idle timer loop taken out.
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
import RequestQueueClass from 'kafkajs/src/network/requestQueue/index.js';

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

/** new Kafka(config), from the patched kafkajs: the one constructor our programs use. */
export function kafkaClient(config: KafkaConfig): Kafka {
  return new Kafka(config);
}
