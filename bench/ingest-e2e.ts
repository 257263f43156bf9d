// End-to-end ingest figures: fixes pre-produced to the embedded broker (its own process, as in
// production, 12 partitions), then the fix-store consumer group reads them into the database.
// Two rates: from the first batch handed to the group to the last fix stored (steady state), and
// from group start (including the group join, which the coordinator delays for a few seconds so
// that members starting together land in one rebalance). The batched writer (flushRows 5000)
// against one INSERT transaction per fix (flushRows 1), same pipeline, same run.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { runGroup } from '../ingest/consumer/runner.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import { SqliteStore } from '../ingest/db/sqlite.js';
import type { Store } from '../ingest/db/store.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import { fixStoreSink } from '../ingest/sinks/fix-store.js';
import { encodeFix } from '../shared/fixcodec.js';
import { createLogger } from '../shared/log.js';
import { fleetFixes, PG_URL } from './ingest.js';

async function produce(kafka: Kafka, topic: string, total: number, seqFrom: number): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const fixes = fleetFixes(total, 200, seqFrom);
  const start = process.hrtime.bigint();
  for (let i = 0; i < fixes.length; i += 5000) {
    await producer.send({
      topic,
      acks: -1,
      messages: fixes.slice(i, i + 5000).map((f) => ({ key: f.deviceId, value: encodeFix(f) })),
    });
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  await producer.disconnect();
  return Math.round(total / s);
}

async function consume(
  kafka: Kafka,
  topic: string,
  groupId: string,
  store: Store,
  expect: number,
  flushRows: number,
): Promise<{ steady: number; withJoin: number }> {
  const metrics = createIngestMetrics();
  const start = process.hrtime.bigint();
  let firstBatch: bigint | undefined;
  const group = await runGroup({
    kafka,
    groupId,
    topic,
    sink: fixStoreSink(store, metrics),
    flushRows,
    flushMs: 50,
    metrics,
    log: createLogger('bench', 'warn'),
  });
  group.consumer.on(group.consumer.events.START_BATCH_PROCESS, () => {
    firstBatch ??= process.hrtime.bigint();
  });
  for (;;) {
    const written = (await metrics.writtenFixes.get()).values[0]?.value ?? 0;
    if (written >= expect) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const end = process.hrtime.bigint();
  await group.stop();
  const rate = (from: bigint) => Math.round(expect / (Number(end - from) / 1e9));
  return { steady: rate(firstBatch ?? start), withJoin: rate(start) };
}

/** The broker as its own process on an ephemeral port; resolves with its address. */
async function startBrokerProcess(dataDir: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'broker/main.ts', '--data-dir', dataDir, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    },
  );
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line);
        if (e.msg === 'broker listening') resolve(e.advertised);
      } catch {
        // not JSON
      }
    });
  });
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function benchEndToEnd(opts: { fixes?: number } = {}): Promise<Record<string, number>> {
  const total = opts.fixes ?? 200_000;
  const singles = 3000;
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const broker = await startBrokerProcess(dataDir);
  const kafka = new Kafka({ clientId: 'bench', brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'bench.big', numPartitions: 12 },
      { topic: 'bench.small', numPartitions: 12 },
    ],
    waitForLeaders: true,
  });
  const figures: Record<string, number> = {};
  try {
    figures['e2e_produce_fixes_per_s'] = await produce(kafka, 'bench.big', total, 1);
    await produce(kafka, 'bench.small', singles, 1);
    const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-db-'));
    const stores: [string, () => Promise<Store>, (s: Store) => Promise<void>][] = [
      [
        'sqlite',
        async () => {
          const s = new SqliteStore(join(dir, `${Math.random()}.db`));
          await s.migrate();
          return s;
        },
        (s) => s.close(),
      ],
      [
        'pg',
        async () => {
          const s = new PostgresStore({
            connectionString: PG_URL,
            schema: `bench_e2e_${process.pid}_${Math.floor(Math.random() * 1e9)}`,
          });
          await s.migrate();
          return s;
        },
        async (s) => {
          await (s as PostgresStore).dropSchema();
          await s.close();
        },
      ],
    ];
    for (const [name, open, close] of stores) {
      const batched = await open();
      const b = await consume(kafka, 'bench.big', `b-${name}`, batched, total, 5000);
      figures[`e2e_${name}_batched_fixes_per_s`] = b.steady;
      figures[`e2e_${name}_batched_incl_join_fixes_per_s`] = b.withJoin;
      await close(batched);
      const single = await open();
      const one = await consume(kafka, 'bench.small', `s-${name}`, single, singles, 1);
      figures[`e2e_${name}_one_per_fix_fixes_per_s`] = one.steady;
      await close(single);
      figures[`e2e_${name}_batched_over_one_per_fix`] =
        Math.round(
          (figures[`e2e_${name}_batched_fixes_per_s`]! / figures[`e2e_${name}_one_per_fix_fixes_per_s`]!) *
            10,
        ) / 10;
    }
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await admin.disconnect();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
