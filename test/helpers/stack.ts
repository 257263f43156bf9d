// The whole pipeline as real processes for the end-to-end and fault-injection tests: the broker
// CLI, the ingest CLI and agent CLIs replaying NMEA files, each a child process that a test can
// SIGKILL and start again on the same files and ports. Everything lives in one temp directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Test } from 'tap';
import { INGEST_NODE_FLAGS } from '../../ingest/config.js';
import { waitForHttp, waitForPort } from '../../scripts/supervisor.js';
import type { Fix } from '../../shared/fix.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** from, from + 1, ..., to: the seqs a test produces and expects stored. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export interface OutboxFacts {
  /** Seqs handed out: 1..generated. */
  generated: number;
  droppedThrough: number;
  droppedCount: number;
  pending: number;
  lastFixTime: number | null;
}

const NO_OUTBOX_FACTS: OutboxFacts = {
  generated: 0,
  droppedThrough: 0,
  droppedCount: 0,
  pending: 0,
  lastFixTime: null,
};

export interface AgentOptions {
  file: string;
  speed: number;
  env?: Record<string, string>;
  /** Run under this file-size limit (KiB): writes past it fail, as on a full card. */
  fileSizeLimitKb?: number;
}

/** Every seq an ingest SQLite file holds for a device, ascending; none before the ingest has made
 *  the file or run its migrations. Read-only, so it can watch a running ingest. */
export function storedSeqsIn(dbPath: string, deviceId: string): number[] {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db
      .prepare<[string], { seq: number }>('SELECT seq FROM fixes WHERE device_id = ? ORDER BY seq')
      .all(deviceId)
      .map((r) => r.seq);
  } catch (e) {
    if (/no such table: fixes/.test((e as Error).message)) return [];
    throw e;
  } finally {
    db.close();
  }
}

export class Stack {
  readonly dir = mkdtempSync(join(tmpdir(), 'fleet-e2e-'));
  readonly token = 'e2e-token-0123456789abcdef';
  brokerPort = 0;
  httpPort = 0;
  private readonly children = new Map<string, ChildProcess>();
  private readonly exits = new Map<string, Promise<number | null>>();

  constructor() {
    mkdirSync(join(this.dir, 'logs'));
  }

  get brokers(): string {
    return `127.0.0.1:${this.brokerPort}`;
  }
  get ingestDb(): string {
    return join(this.dir, 'ingest.db');
  }
  agentDb(deviceId: string): string {
    return join(this.dir, `agent-${deviceId}.db`);
  }

  private spawn(
    name: string,
    entry: string,
    args: string[],
    env: Record<string, string> = {},
    nodeFlags: string[] = [],
    fileSizeLimitKb?: number,
  ): ChildProcess {
    const log = createWriteStream(join(this.dir, 'logs', `${name}.log`), { flags: 'a' });
    const nodeArgs = [...nodeFlags, '--import', 'tsx', entry, ...args];
    // A file-size limit (soft, so prlimit can lift it from outside): writes past it fail with
    // EFBIG, as on a full disk. exec keeps the pid the node process's own.
    const [cmd, argv] =
      fileSizeLimitKb === undefined
        ? [process.execPath, nodeArgs]
        : ['bash', ['-c', `ulimit -S -f ${fileSizeLimitKb}; exec "$0" "$@"`, process.execPath, ...nodeArgs]];
    const child = spawn(cmd, argv, {
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        // tsx's compile cache is written by the process too: a limit would hit it first.
        ...(fileSizeLimitKb === undefined ? {} : { TSX_DISABLE_CACHE: '1' }),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.children.set(name, child);
    this.exits.set(
      name,
      new Promise((resolve) =>
        child.on('exit', (code) => {
          log.end();
          resolve(code);
        }),
      ),
    );
    return child;
  }

  async startBroker(): Promise<void> {
    this.brokerPort ||= await freePort();
    this.spawn('broker', 'broker/main.ts', [
      '--data-dir',
      join(this.dir, 'broker'),
      '--port',
      String(this.brokerPort),
      '--default-partitions',
      '4',
    ]);
    await waitForPort('127.0.0.1', this.brokerPort, 30_000);
  }

  async startIngest(
    name = 'ingest',
    env: Record<string, string> = {},
    o: { fileSizeLimitKb?: number } = {},
  ): Promise<void> {
    this.httpPort ||= await freePort();
    const http = env['INGEST_HTTP'] !== 'false';
    this.spawn(
      name,
      'ingest/main.ts',
      ['run'],
      {
        KAFKA_BROKERS: this.brokers,
        INGEST_SQLITE_PATH: this.ingestDb,
        INGEST_TOKEN: this.token,
        INGEST_HTTP_PORT: String(this.httpPort),
        INGEST_GROUPS: 'fix-store,live',
        INGEST_FLUSH_MS: '100',
        ...env,
      },
      INGEST_NODE_FLAGS,
      o.fileSizeLimitKb,
    );
    if (http) await waitForHttp(`http://127.0.0.1:${this.httpPort}/healthz`, 60_000);
  }

  startAgent(deviceId: string, o: AgentOptions): ChildProcess {
    return this.spawn(
      `agent-${deviceId}`,
      'agent/main.ts',
      [
        'run',
        '--replay',
        o.file,
        '--speed',
        String(o.speed),
        '--device',
        deviceId,
        '--db',
        this.agentDb(deviceId),
      ],
      { KAFKA_BROKERS: this.brokers, ...o.env },
      [],
      o.fileSizeLimitKb,
    );
  }

  /** The process's pid (for prlimit and the like). */
  pid(name: string): number | undefined {
    return this.children.get(name)?.pid;
  }

  running(name: string): boolean {
    const c = this.children.get(name);
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const c = this.children.get(name);
    if (!c || !this.running(name)) return c?.exitCode ?? null;
    c.kill(signal);
    return this.exited(name);
  }

  exited(name: string): Promise<number | null> {
    return this.exits.get(name) ?? Promise.resolve(null);
  }

  /**
   * What a device's outbox says it generated and dropped (read-only, works while the agent runs).
   * An agent just started may not have made the file yet, or made it but not yet its tables: that
   * outbox holds nothing yet, not an error (the agent sets user_version once its tables are made).
   */
  outbox(deviceId: string): OutboxFacts {
    if (!existsSync(this.agentDb(deviceId))) return NO_OUTBOX_FACTS;
    const db = new Database(this.agentDb(deviceId), { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      if (db.pragma('user_version', { simple: true }) === 0) return NO_OUTBOX_FACTS;
      const r = db
        .prepare<
          [string],
          { next_seq: number; dropped_through: number; dropped_count: number; last_fix_time: number | null }
        >('SELECT next_seq, dropped_through, dropped_count, last_fix_time FROM device WHERE device = ?')
        .get(deviceId);
      if (!r) return NO_OUTBOX_FACTS;
      const p = db
        .prepare<[string], { n: number }>(
          'SELECT count(*) AS n FROM fix JOIN device d ON d.id = fix.dev WHERE d.device = ?',
        )
        .get(deviceId)!;
      return {
        generated: r.next_seq - 1,
        droppedThrough: r.dropped_through,
        droppedCount: r.dropped_count,
        pending: p.n,
        lastFixTime: r.last_fix_time,
      };
    } finally {
      db.close();
    }
  }

  /** Every seq the ingest database holds for a device, ascending (none before the ingest made the file). */
  storedSeqs(deviceId: string): number[] {
    return storedSeqsIn(this.ingestDb, deviceId);
  }

  async api<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Opens the device's live SSE stream and calls `onFix` for every fix event until `close()`. */
  liveStream(deviceId: string, onFix: (fix: Fix & { receivedAt: number }) => void): { close: () => void } {
    const ctl = new AbortController();
    void (async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/api/devices/${deviceId}/live`, {
          headers: { authorization: `Bearer ${this.token}` },
          signal: ctl.signal,
        });
        const reader = res.body!.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += dec.decode(value, { stream: true });
          let cut = buf.indexOf('\n\n');
          while (cut >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (/^event: fix$/m.test(block) && data) onFix(JSON.parse(data));
            cut = buf.indexOf('\n\n');
          }
        }
      } catch {
        // aborted by close(), or the server went away: the test's own checks will say so
      }
    })();
    return { close: () => ctl.abort() };
  }

  async stopAll(): Promise<void> {
    // Agents first, so they can still flush to the broker; then ingest; then the broker.
    const order = [...this.children.keys()].sort((a, b) => rank(a) - rank(b));
    for (const name of order) await this.kill(name, 'SIGTERM');
  }

  async cleanup(keepOnFailure: boolean): Promise<void> {
    for (const name of this.children.keys()) await this.kill(name, 'SIGKILL');
    if (!keepOnFailure) rmSync(this.dir, { recursive: true, force: true });
  }
}

const rank = (name: string) => (name.startsWith('agent-') ? 0 : name.startsWith('ingest') ? 1 : 2);

/**
 * Polls `check` until it returns true or `timeoutMs` passes; returns whether it became true.
 * A check that throws counts as "not yet": what it polls (a file, a table, a port) may be half
 * made by a process still starting. If its last try before the deadline threw, that error is
 * thrown, so a check that can never succeed still names why.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failed: { error: unknown } | undefined;
    try {
      if (await check()) return true;
    } catch (error) {
      failed = { error };
    }
    if (Date.now() > deadline) {
      if (failed) throw failed.error;
      return false;
    }
    await sleep(everyMs);
  }
}

/** How many seqs the database must hold for the device once everything has arrived. */
export function expectedCount(o: OutboxFacts): number {
  return o.generated - o.droppedCount;
}

/**
 * The check every fault test ends with: the database holds, for each device, exactly the seqs
 * the device generated minus those its outbox reported dropped, each once.
 *  - every seq above droppedThrough is stored (nothing acknowledged or pending was lost);
 *  - of the seqs at or below droppedThrough, exactly `generated - droppedCount` minus the above
 *    are stored (the dropped ones are the only ones missing);
 *  - nothing outside 1..generated, no seq twice.
 */
export function checkExactlyOnce(
  t: Test,
  stack: Stack,
  deviceIds: string[],
  stored?: Map<string, number[]>,
): void {
  for (const id of deviceIds) {
    const o = stack.outbox(id);
    const seqs = stored?.get(id) ?? stack.storedSeqs(id);
    t.ok(o.generated > 0, `${id}: generated ${o.generated} fixes`);
    t.equal(o.pending, 0, `${id}: outbox drained`);
    t.equal(new Set(seqs).size, seqs.length, `${id}: no seq stored twice`);
    t.ok(
      seqs.every((s) => s >= 1 && s <= o.generated),
      `${id}: every stored seq was generated`,
    );
    const above = seqs.filter((s) => s > o.droppedThrough);
    t.equal(
      above.length,
      o.generated - o.droppedThrough,
      `${id}: every seq above droppedThrough=${o.droppedThrough} stored`,
    );
    const below = seqs.length - above.length;
    t.equal(
      below,
      o.droppedThrough - o.droppedCount,
      `${id}: below droppedThrough only the ${o.droppedCount} dropped are missing`,
    );
  }
}

/** Where a device's stored seqs are read: the stack's SQLite file unless told otherwise (PostgreSQL). */
export type SeqsOf = (deviceId: string) => number[] | Promise<number[]>;

/** Waits (up to `timeoutMs`) for the database to hold what the outboxes say, then checks it exactly. */
export async function settleAndCheck(
  t: Test,
  stack: Stack,
  deviceIds: string[],
  timeoutMs = 60_000,
  seqsOf: SeqsOf = (id) => stack.storedSeqs(id),
): Promise<void> {
  const caughtUp = await eventually(async () => {
    for (const id of deviceIds) {
      if ((await seqsOf(id)).length < expectedCount(stack.outbox(id))) return false;
    }
    return true;
  }, timeoutMs);
  t.ok(caughtUp, 'the database caught up');
  const stored = new Map<string, number[]>();
  for (const id of deviceIds) stored.set(id, await seqsOf(id));
  checkExactlyOnce(t, stack, deviceIds, stored);
}

/** Runs `body` with a fresh stack; stops every process afterwards, keeping the files if the test failed. */
export async function withStack(t: Test, body: (stack: Stack) => Promise<void>): Promise<void> {
  const stack = new Stack();
  t.teardown(async () => {
    const failed = !t.passing();
    if (failed) t.comment(`kept for inspection: ${stack.dir}`);
    await stack.cleanup(failed);
  });
  await body(stack);
}
