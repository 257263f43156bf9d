// The store groups (fix-store, trips) on a worker thread of their own, when they share a process
// with the live group (`npm run ingest -- run`, the default): ingest/app.ts decides. The same
// thread, running fix-store alone, carries each fix-store member beyond the first
// (INGEST_FIX_STORE_MEMBERS; ingest/README.md).
//
// Why: the live group pushes each fix to the SSE clients as it arrives, so its p99 is whatever
// holds its event loop. In one thread, the store groups' kafkajs decoding, their flush buffers
// (tens of thousands of fix objects, garbage for the main heap's collector) and their
// transactions held it: 0.1-2 s p99 at 10,000 riders (bench/live.ts `all`), where the live group
// alone keeps ~30 ms. On the thread they run with their own Kafka client, store connection, heap
// and event loop; the main thread keeps the live group, the HTTP server and the reads.
//
// The thread runs startIngest() itself with the store groups and no HTTP server (so one piece of
// wiring, one behaviour for every group), and answers the main thread's questions: the groups'
// states (for /healthz), its metrics (merged into /metrics and /api/stats), stop. A setting Kafka
// refuses is reported like any group's (onFatal). A thread that dies is reported as fatal too:
// the process exits and its supervisor (systemd) starts it again; nothing is lost, as after a
// kill -9 (uncommitted fixes are delivered again, the sinks are idempotent).
import type { Worker } from 'node:worker_threads';
import type { KafkaConfig } from 'kafkajs';
import {
  reviveThreadError,
  siblingModule,
  startModuleWorker,
  type ThreadError,
} from '../shared/module-worker.js';
import type { GroupName } from './config.js';
import type { GroupState } from './consumer/runner.js';
import type { StoreOptions } from './db/open.js';
import type { MetricsJson } from './http/metrics.js';

/** What the thread needs of IngestOptions: plain data (it is copied to the thread). */
export interface GroupsThreadOptions {
  kafka: KafkaConfig;
  topic: string;
  dlqTopic: string;
  groups: GroupName[];
  groupPrefix?: string | undefined;
  store: StoreOptions;
  flushRows: number;
  flushMs: number;
  sessionTimeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  lagPollMs?: number | undefined;
  stallMs?: number | undefined;
  /**
   * Run at a lower CPU priority (default true): when the live group is in the process, it goes
   * first. Not when the process runs no live group: a fix-store member there is the main thread's
   * peer.
   */
  lowerPriority?: boolean | undefined;
  /** The thread's name in its log lines (default store-groups). */
  label?: string | undefined;
}

export interface ThreadGroupState {
  name: GroupName;
  groupId: string;
  state: GroupState;
  assigned: number[];
}

export type ThreadRequest = { id: number; op: 'states' | 'metrics' | 'stop' };
export type ThreadMessage =
  | { type: 'started' }
  | { type: 'startFailed'; error: ThreadError }
  | { type: 'fatal'; group: string; error: ThreadError }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: ThreadError };

/** A question to the thread gets this long; a wedged thread must not hang /healthz or /metrics. */
const ASK_MS = 5_000;

export class GroupsThread {
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  private gone: Error | undefined;
  private stopping = false;

  private constructor(
    private readonly worker: Worker,
    readonly groups: readonly GroupName[],
  ) {}

  /**
   * Starts the thread and waits until its startIngest() returned (store open, groups supervised;
   * not joined: a broker away is waited for there, as on the main thread). `onFatal` is called
   * for a group that stopped for good or a thread that died.
   */
  static start(o: GroupsThreadOptions, onFatal: (group: string, e: Error) => void): Promise<GroupsThread> {
    const worker = startModuleWorker(siblingModule(import.meta.url, 'groups-thread-worker'), {
      workerData: o,
    });
    const thread = new GroupsThread(worker, o.groups);
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (m: ThreadMessage) => {
        if (m.type === 'started') {
          started = true;
          resolve(thread);
        } else if (m.type === 'startFailed') {
          void worker.terminate();
          reject(reviveThreadError(m.error));
        } else if (m.type === 'fatal') {
          onFatal(m.group, reviveThreadError(m.error));
        } else {
          thread.settle(m);
        }
      });
      const died = (e: Error) => {
        // A crash is an 'error' then an 'exit': one report.
        if (thread.gone) return;
        thread.fail(e);
        if (!started) reject(e);
        else if (!thread.stopping) onFatal(o.groups.join(','), e);
      };
      worker.on('error', (e) => died(new Error(`store groups thread failed: ${e.message}`)));
      worker.on('exit', (code) => died(new Error(`store groups thread exited (code ${code})`)));
    });
  }

  states = (): Promise<ThreadGroupState[]> => this.ask('states') as Promise<ThreadGroupState[]>;
  metrics = (): Promise<MetricsJson> => this.ask('metrics') as Promise<MetricsJson>;

  /** Stops the groups as a process stop would (batches in hand written before the store closes), then the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.gone) return;
    try {
      // Longer than a question: the groups finish their batches in hand (supervisor's stopMs).
      await this.ask('stop', 60_000);
    } finally {
      await this.worker.terminate();
    }
  }

  private ask(op: ThreadRequest['op'], timeoutMs = ASK_MS): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`store groups thread did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.worker.postMessage({ id, op } satisfies ThreadRequest);
    });
  }

  private settle(m: Extract<ThreadMessage, { type: 'reply' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(reviveThreadError(m.error));
  }

  private fail(e: Error): void {
    this.gone ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
