// The consuming side of the end-to-end benchmark, run as its own process (as the ingest service
// is), started by bench/ingest-e2e.ts with the same V8 flags as `npm run ingest`: startIngest()
// with the fix-store group only, `members` of it (INGEST_FIX_STORE_MEMBERS), no HTTP server.
// argv[2]: JSON ConsumeJob. Prints one JSON line:
// - steady: fixes/s past the warm-up, from the flushes' own start times (bench/steady-rate.ts:
//   received_at in the database, or the counting sink's clock);
// - withJoin: fixes/s from process start to the last fix seen stored, the group join included
//   (the coordinator delays it a few seconds so that members starting together land in one
//   rebalance);
// - cpuUsPerFix: the process's CPU time (all threads, user + system) from the join to the end,
//   divided by the fixes: unlike the rates, it hardly moves when other work shares the machine.
// discard: the same consumer group (superviseGroup, decode, flush buffer, offset commits after
// each flush) with a sink that only counts: what the Kafka side alone can feed a database on this
// machine, the ceiling any store behind it is under.
import Database from 'better-sqlite3';
import { logLevel } from 'kafkajs';
import pg from 'pg';
import { startIngest } from '../ingest/app.js';
import { superviseGroup } from '../ingest/consumer/supervisor.js';
import { createIngestMetrics, type IngestMetrics } from '../ingest/metrics.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { createLogger, type Logger } from '../shared/log.js';
import { type Flush, steadyRate } from './steady-rate.js';

export interface ConsumeJob {
  broker: string;
  topic: string;
  groupId: string;
  /** SQLite file, or a PostgreSQL schema when pgUrl is set. */
  sqlitePath?: string;
  pgUrl?: string;
  pgSchema?: string;
  expect: number;
  flushRows: number;
  members: number;
  /** No database: a sink that counts (one member, on the main thread). */
  discard?: boolean;
}

/** The fix-store group's consumer without its store: its sink counts what it is handed, and
 *  when (`flushes`, as a store's received_at would say). */
async function startDiscarding(job: ConsumeJob, metrics: IngestMetrics, log: Logger, flushes: Flush[]) {
  const group = superviseGroup({
    kafka: kafkaClient({ clientId: 'bench', brokers: [job.broker], logLevel: logLevel.NOTHING }),
    groupId: `${job.groupId}-fix-store`,
    topic: job.topic,
    sink: {
      handleBatch: async (fixes) => {
        flushes.push({ at: Date.now(), rows: fixes.length });
        metrics.writtenFixes.inc({ group: 'fix-store' }, fixes.length);
      },
    },
    flushRows: job.flushRows,
    flushMs: FLUSH_MS,
    metrics,
    log,
  });
  return { groups: [group], threads: [], stop: () => group.stop() };
}

const FLUSH_MS = 50;

async function main(job: ConsumeJob) {
  const metrics = createIngestMetrics();
  const discarded: Flush[] = [];
  const start = process.hrtime.bigint();
  const log = createLogger('bench', 'warn');
  const ingest = job.discard
    ? await startDiscarding(job, metrics, log, discarded)
    : await startIngest({
        kafka: { clientId: 'bench', brokers: [job.broker] },
        topic: job.topic,
        dlqTopic: `${job.topic}.dlq`,
        groups: ['fix-store'],
        groupPrefix: `${job.groupId}-`,
        store: { databaseUrl: job.pgUrl, schema: job.pgSchema, sqlitePath: job.sqlitePath ?? '' },
        flushRows: job.flushRows,
        flushMs: FLUSH_MS,
        fixStoreMembers: job.members,
        metrics,
        log,
      });
  // Written so far over every member (each thread keeps its own registry).
  const written = async () => {
    let n = (await metrics.writtenFixes.get()).values[0]?.value ?? 0;
    for (const t of ingest.threads) {
      const m = (await t.metrics()).find((x) => x.name === 'ingest_written_fixes_total');
      n += m?.values[0]?.value ?? 0;
    }
    return n;
  };
  const states = async () => [
    ...ingest.groups.map((g) => g.state()),
    ...(await Promise.all(ingest.threads.map((t) => t.states()))).flat().map((s) => s.state),
  ];
  // CPU from the moment every member has joined (their GroupState says live).
  let joined: { cpu: NodeJS.CpuUsage } | undefined;
  for (;;) {
    if (!joined) {
      const s = await states();
      if (s.every((x) => x.live)) joined = { cpu: process.cpuUsage() };
    }
    if (joined && (await written()) >= job.expect) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const end = process.hrtime.bigint();
  const cpu = process.cpuUsage(joined.cpu);
  await ingest.stop();
  const flushes = job.discard ? discarded : await storedFlushes(job);
  const stored = flushes.reduce((n, f) => n + f.rows, 0);
  if (stored !== job.expect) throw new Error(`${stored} fixes stored, expected ${job.expect}`);
  const cpuUsPerFix = Math.round(((cpu.user + cpu.system) / job.expect) * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({
      steady: steadyRate(flushes),
      withJoin: Math.round(job.expect / (Number(end - start) / 1e9)),
      cpuUsPerFix,
    })}\n`,
  );
}

/** The flushes as the database recorded them: the fixes stamped with each received_at. */
async function storedFlushes(job: ConsumeJob): Promise<Flush[]> {
  const sql = (fixes: string) =>
    `SELECT received_at AS at, count(*) AS rows FROM ${fixes} GROUP BY received_at`;
  if (!job.pgUrl) {
    const db = new Database(job.sqlitePath!, { readonly: true });
    try {
      return db.prepare(sql('fixes')).all() as Flush[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: job.pgUrl });
  await client.connect();
  try {
    const res = await client.query<{ at: string; rows: string }>(sql(`"${job.pgSchema}".fixes`));
    return res.rows.map((r) => ({ at: Number(r.at), rows: Number(r.rows) }));
  } finally {
    await client.end();
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as ConsumeJob).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
