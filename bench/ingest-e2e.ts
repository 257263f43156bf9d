// End-to-end ingest figures: fixes pre-produced to the embedded broker (its own process, as in
// production, 12 partitions), then the fix-store consumer group, in its own process with the
// ingest service's V8 flags (bench/ingest-e2e-consumer.ts), reads them into the database: with
// one member (the default), then with two (INGEST_FIX_STORE_MEMBERS=2). Two rates: from the
// group's members having joined to the last fix stored (steady state), and from process start
// (including the group join, which the coordinator delays for a few seconds so that members
// starting together land in one rebalance). The batched writer (INGEST_FLUSH_ROWS)
// against one INSERT transaction per fix (flushRows 1), same pipeline, same run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { INGEST_NODE_FLAGS, ingestSpec } from '../ingest/config.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import { encodeFix } from '../shared/fixcodec.js';
import { childBroker } from '../test/helpers/broker-harness.js';
import { fleetFixes, PG_URL } from './ingest.js';
import type { ConsumeJob } from './ingest-e2e-consumer.js';

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

/** Runs the fix-store group in its own process until `expect` fixes are stored. */
function consume(job: ConsumeJob): Promise<{ steady: number; withJoin: number; cpuUsPerFix: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...INGEST_NODE_FLAGS, '--import', 'tsx', 'bench/ingest-e2e-consumer.ts', JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
    });
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`consumer exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

export async function benchEndToEnd(
  opts: { fixes?: number; backends?: ('sqlite' | 'pg')[]; flushRows?: number; members?: number } = {},
): Promise<Record<string, number>> {
  const total = opts.fixes ?? 200_000;
  const singles = 3000;
  // The default (one member), and two on threads of their own (INGEST_FIX_STORE_MEMBERS=2).
  const memberCounts = opts.members ? [opts.members] : [1, 2];
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const broker = await childBroker(null, dataDir);
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
    let n = 0;
    const target = (name: 'sqlite' | 'pg') =>
      name === 'sqlite'
        ? { sqlitePath: join(dir, `${n++}.db`) }
        : { pgUrl: PG_URL, pgSchema: `bench_e2e_${process.pid}_${n++}` };
    for (const [name, members] of (opts.backends ?? (['sqlite', 'pg'] as const)).flatMap((b) =>
      memberCounts.map((m) => [b, m] as const),
    )) {
      const key = `e2e_${name}${members === 1 ? '' : `_${members}_members`}`;
      const big = target(name);
      const b = await consume({
        broker: broker.address,
        topic: 'bench.big',
        groupId: `b-${key}`,
        expect: total,
        flushRows: opts.flushRows ?? ingestSpec.INGEST_FLUSH_ROWS.default!,
        members,
        ...big,
      });
      figures[`${key}_batched_fixes_per_s`] = b.steady;
      figures[`${key}_batched_incl_join_fixes_per_s`] = b.withJoin;
      figures[`${key}_batched_cpu_us_per_fix`] = b.cpuUsPerFix;
      const small = target(name);
      const one = await consume({
        broker: broker.address,
        topic: 'bench.small',
        groupId: `s-${key}`,
        expect: singles,
        flushRows: 1,
        members,
        ...small,
      });
      figures[`${key}_one_per_fix_fixes_per_s`] = one.steady;
      figures[`${key}_batched_over_one_per_fix`] = Math.round((b.steady / one.steady) * 10) / 10;
      for (const t of [big, small]) {
        if ('pgSchema' in t) {
          const s = new PostgresStore({ connectionString: PG_URL, schema: t.pgSchema });
          await s.dropSchema();
          await s.close();
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await admin.disconnect();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
