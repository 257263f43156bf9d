// The consuming side of the end-to-end benchmark, run as its own process (as the ingest service
// is), started by bench/ingest-e2e.ts with the same V8 flags as `npm run ingest`.
// argv[2]: JSON ConsumeJob. Prints one JSON line: { steady, withJoin } in fixes/s, and
// cpuUsPerFix: the process's CPU time (all threads, user + system) over the steady part, divided
// by the fixes: unlike the rates, it hardly moves when other work shares the machine.
import { Kafka, logLevel } from 'kafkajs';
import { runGroup } from '../ingest/consumer/runner.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import { SqliteStore } from '../ingest/db/sqlite.js';
import type { Store } from '../ingest/db/store.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { fixStoreSink } from '../ingest/sinks/fix-store.js';
import { createLogger } from '../shared/log.js';

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
}

async function main(job: ConsumeJob) {
  const store: Store = job.pgUrl
    ? new PostgresStore({ connectionString: job.pgUrl, schema: job.pgSchema })
    : new SqliteStore(job.sqlitePath!);
  await store.migrate();
  const kafka = new Kafka({ clientId: 'bench', brokers: [job.broker], logLevel: logLevel.NOTHING });
  const metrics = createIngestMetrics();
  const start = process.hrtime.bigint();
  let firstBatch: bigint | undefined;
  let cpuAtFirstBatch: NodeJS.CpuUsage | undefined;
  const group = await runGroup({
    kafka,
    groupId: job.groupId,
    topic: job.topic,
    sink: fixStoreSink(store, metrics),
    flushRows: job.flushRows,
    flushMs: 50,
    metrics,
    log: createLogger('bench', 'warn'),
  });
  group.consumer.on(group.consumer.events.START_BATCH_PROCESS, () => {
    if (firstBatch !== undefined) return;
    firstBatch = process.hrtime.bigint();
    cpuAtFirstBatch = process.cpuUsage();
  });
  for (;;) {
    const written = (await metrics.writtenFixes.get()).values[0]?.value ?? 0;
    if (written >= job.expect) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const end = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpuAtFirstBatch);
  await group.stop();
  await store.close();
  const rate = (from: bigint) => Math.round(job.expect / (Number(end - from) / 1e9));
  const cpuUsPerFix = Math.round(((cpu.user + cpu.system) / job.expect) * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({ steady: rate(firstBatch ?? start), withJoin: rate(start), cpuUsPerFix })}\n`,
  );
}

main(JSON.parse(process.argv[2] ?? '{}') as ConsumeJob).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
