// The store groups' thread (groups-thread.ts says why): startIngest() with the groups it was
// given and no HTTP server, its own logger and metrics registry, answering the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/log.js';
import { toThreadError } from '../shared/module-worker.js';
import { lowerThreadPriority } from '../shared/thread-priority.js';
import { type IngestProcess, startIngest } from './app.js';
import type { GroupsThreadOptions, ThreadGroupState, ThreadMessage, ThreadRequest } from './groups-thread.js';
import { createIngestMetrics } from './metrics.js';

const port = parentPort;
if (!port) throw new Error('groups-thread-worker.ts runs as a worker thread (see groups-thread.ts)');
const o = workerData as GroupsThreadOptions;
/** Added to the thread's niceness. */
const STORE_THREAD_NICENESS = 10;
const send = (m: ThreadMessage) => port.postMessage(m);
const log = createLogger('ingest').child({ thread: o.label ?? 'store-groups' });
// Its own registry: the main thread merges it into what /metrics serves.
const metrics = createIngestMetrics();

// The live group on the main thread goes first when the cores are busy (thread-priority.ts):
// at 10,000 riders and a load of ~5, this halved its p99 (bench/live.ts all), and the store
// groups still had every fix committed ~1 s after the last was sent.
if (o.lowerPriority !== false) {
  try {
    log.info(lowerThreadPriority(STORE_THREAD_NICENESS), 'store groups thread runs at a lower CPU priority');
  } catch (e) {
    log.warn({ err: e }, 'could not lower the store groups thread priority; it competes with the live group');
  }
}

let ingest: IngestProcess | undefined;
try {
  ingest = await startIngest({
    ...o,
    // This thread is one member; the process that started it runs the others.
    fixStoreMembers: 1,
    metrics,
    log,
    onFatal: (group, e) => send({ type: 'fatal', group, error: toThreadError(e) }),
  });
  send({ type: 'started' });
} catch (e) {
  send({ type: 'startFailed', error: toThreadError(e) });
}

async function answer(op: ThreadRequest['op']): Promise<unknown> {
  const running = ingest;
  if (!running) throw new Error('the store groups did not start');
  switch (op) {
    case 'states':
      return running.groups.map(
        (g, i): ThreadGroupState => ({
          name: o.groups[i]!,
          groupId: g.groupId,
          state: g.state(),
          assigned: g.assigned(),
        }),
      );
    case 'metrics':
      return metrics.registry.getMetricsAsJSON();
    case 'stop':
      await running.stop();
      return undefined;
  }
}

port.on('message', (r: ThreadRequest) => {
  answer(r.op).then(
    (result) => send({ type: 'reply', id: r.id, ok: true, result }),
    (e: unknown) => send({ type: 'reply', id: r.id, ok: false, error: toThreadError(e) }),
  );
});
