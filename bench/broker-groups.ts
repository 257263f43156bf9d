// Consumer group figures: how fast offsets become durable, how well concurrent commits share an
// fsync, how long the state log takes to reopen, and how long kafkajs groups take to form and to
// recover from a dead member.
//   node --import tsx bench/broker-groups.ts [--commits N] [--skip-groups]
// benchGroups() returns the same figures for bench/run.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Consumer, logLevel } from 'kafkajs';
import { startBroker } from '../broker/broker.js';
import { GroupStore, type OffsetWrite } from '../broker/groups/store.js';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { createLogger } from '../shared/log.js';
import { WireClient } from '../test/helpers/broker-groups-wire.js';

export interface GroupFigures {
  /** One commit in flight at a time: each waits for its own fdatasync. */
  sequentialCommitsPerSec: number;
  sequentialMsPerCommit: number;
  /** 64 commits in flight: group commit shares fsyncs. */
  concurrentCommitsPerSec: number;
  commitsPerFsync: number;
  /** OffsetCommit requests over TCP from 8 connections (12 partitions each), acked after fsync. */
  wireCommitRequestsPerSec: number;
  /** Reopening a log of that many commit records (after compaction it is one record per group). */
  reopenRecords: number;
  reopenMs: number;
  logBytes: number;
  /** kafkajs: 4 consumers starting together until Stable (initial delay 300 ms here, Kafka's is 3 s). */
  formGroupMs?: number;
  /** kafkajs: a 5th consumer joining a stable group of 4, until Stable again with 5. */
  joinRebalanceMs?: number;
}

const now = () => performance.now();
const w = (partition: number, offset: number): OffsetWrite => ({
  topic: 'gps.fixes',
  partition,
  offset,
  leaderEpoch: -1,
  metadata: null,
  commitTimestamp: Date.now(),
});

async function storeFigures(commits: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-groups-'));
  try {
    // Compaction floor high so the reopen figure measures replaying `commits` records.
    const store = await GroupStore.open(dir, { compactFloorBytes: 1 << 30 });
    let t0 = now();
    const seq = Math.min(commits, 2000);
    for (let i = 0; i < seq; i++) await store.commitOffsets('g', [w(i % 12, i)]);
    const seqSec = (now() - t0) / 1000;
    const before = store.stats();
    t0 = now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < commits) {
          const i = next++;
          await store.commitOffsets(`g${i % 16}`, [w(i % 12, i)]);
        }
      }),
    );
    const concSec = (now() - t0) / 1000;
    const after = store.stats();
    await store.close();
    t0 = now();
    const reopened = await GroupStore.open(dir);
    const reopenMs = now() - t0;
    const logBytes = reopened.logBytes;
    await reopened.close();
    return {
      sequentialCommitsPerSec: Math.round(seq / seqSec),
      sequentialMsPerCommit: +((seqSec * 1000) / seq).toFixed(3),
      concurrentCommitsPerSec: Math.round(commits / concSec),
      commitsPerFsync: +((after.records - before.records) / (after.syncs - before.syncs)).toFixed(1),
      reopenRecords: seq + commits,
      reopenMs: Math.round(reopenMs),
      logBytes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function wireFigures(requests: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-groups-'));
  const broker = await startBroker({ dataDir, port: 0, logger: createLogger('broker', 'warn') });
  try {
    const admin = kafkaClient({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'gps.fixes', numPartitions: 12 }], waitForLeaders: true });
    await admin.disconnect();
    const clients = await Promise.all(Array.from({ length: 8 }, () => WireClient.connect(broker.port)));
    let next = 0;
    const t0 = now();
    await Promise.all(
      clients.map(async (c, ci) => {
        while (next < requests) {
          const offset = next++;
          await c.request(ApiKey.OffsetCommit, 5, (wr) => {
            wr.string(`ingest-${ci}`).int32(-1).string('');
            wr.array(['gps.fixes'], (wr, name) => {
              wr.string(name).array([...Array(12).keys()], (wr, p) => {
                wr.int32(p).int64(offset).nullableString(null);
              });
            });
          });
        }
      }),
    );
    const sec = (now() - t0) / 1000;
    for (const c of clients) c.close();
    return { wireCommitRequestsPerSec: Math.round(requests / sec) };
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function groupFigures() {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-groups-'));
  const broker = await startBroker({
    dataDir,
    port: 0,
    logger: createLogger('broker', 'warn'),
    groups: { initialRebalanceDelayMs: 300 },
  });
  const kafka = kafkaClient({ brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const consumers: Consumer[] = [];
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'gps.fixes', numPartitions: 12 }], waitForLeaders: true });
    const stable = async (n: number) => {
      for (;;) {
        const g = (await admin.describeGroups(['bench'])).groups[0];
        if (g?.state === 'Stable' && g.members.length === n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const start = async () => {
      const c = kafka.consumer({
        groupId: 'bench',
        sessionTimeout: 6000,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 100,
      });
      consumers.push(c);
      await c.connect();
      await c.subscribe({ topic: 'gps.fixes' });
      await c.run({ eachMessage: async () => {} });
    };
    let t0 = now();
    await Promise.all([start(), start(), start(), start()]);
    await stable(4);
    const formGroupMs = Math.round(now() - t0);
    t0 = now();
    await start();
    await stable(5);
    const joinRebalanceMs = Math.round(now() - t0);
    return { formGroupMs, joinRebalanceMs };
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
    await admin.disconnect().catch(() => {});
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchGroups(opts: { commits?: number; groups?: boolean } = {}): Promise<GroupFigures> {
  const commits = opts.commits ?? 20_000;
  const figures: GroupFigures = { ...(await storeFigures(commits)), ...(await wireFigures(commits / 4)) };
  if (opts.groups !== false) Object.assign(figures, await groupFigures());
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--commits');
  const figures = await benchGroups({
    commits: i >= 0 ? Number(args[i + 1]) : undefined,
    groups: !args.includes('--skip-groups'),
  });
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
}
