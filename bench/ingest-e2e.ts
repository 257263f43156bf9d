// End-to-end ingest figures: fixes pre-produced to the embedded broker (its own process, as in
// production, 12 partitions), then the fix-store consumer group, in its own process with the
// ingest service's V8 flags (bench/ingest-e2e-consumer.ts), reads them into the database: with
// two members (INGEST_FIX_STORE_MEMBERS' default without the live group), then with one. Two
// rates: the steady one, past each run's warm-up (its first quarter of the fixes:
// bench/steady-rate.ts says why), and one from process start (including the group join, which
// the coordinator delays for a few seconds so that members starting together land in one
// rebalance). The batched writer (INGEST_FLUSH_ROWS) against one INSERT transaction per fix
// (flushRows 1), same pipeline, same run, each long enough to measure past its warm-up; the
// goal's ratio takes the faster of the two one-per-fix rates. And the same consumer group with
// no database behind it (its sink only counts): the most any store can be fed through kafkajs
// on this machine by one member, and the CPU a fix costs before it reaches the store.
// Each figure is the median of `rounds` runs (3 by default), batched and one-per-fix runs taking
// turns: on this shared 2-core machine one run of a few seconds moves by +-20% from the next.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kafka, logLevel } from 'kafkajs';
import { defaultFixStoreMembers, INGEST_NODE_FLAGS, ingestSpec } from '../ingest/config.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import { encodeFix } from '../shared/fixcodec.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { childBroker } from '../test/helpers/broker-harness.js';
import { fleetFixes, PG_URL } from './ingest.js';
import type { ConsumeJob } from './ingest-e2e-consumer.js';
import { median } from './median.js';
import { settleDisk } from './settle-disk.js';

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

interface ConsumeResult {
  steady: number;
  withJoin: number;
  cpuUsPerFix: number;
}

/** Runs the fix-store group in its own process until `expect` fixes are stored. */
function consume(job: ConsumeJob): Promise<ConsumeResult> {
  settleDisk();
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

const round1 = (x: number) => Math.round(x * 10) / 10;

export async function benchEndToEnd(
  opts: {
    fixes?: number;
    backends?: ('sqlite' | 'pg')[];
    flushRows?: number;
    members?: number;
    rounds?: number;
  } = {},
): Promise<Record<string, number>> {
  const total = opts.fixes ?? 600_000;
  const rounds = opts.rounds ?? 3;
  const batchRows = opts.flushRows ?? ingestSpec.INGEST_FLUSH_ROWS.default!;
  const singles = 8000;
  // The default for a process that runs fix-store alone (two: the second on a thread of its own),
  // then one.
  const defaultMembers = defaultFixStoreMembers(['fix-store']);
  const memberCounts = opts.members ? [opts.members] : [defaultMembers, 1];
  // e2e_sqlite: the default; e2e_sqlite_1_members: one member.
  const keyOf = (name: string, members: number) =>
    `e2e_${name}${members === defaultMembers ? '' : `_${members}_members`}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const broker = await childBroker(null, dataDir);
  const kafka = kafkaClient({ clientId: 'bench', brokers: [broker.address], logLevel: logLevel.NOTHING });
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
    // The backlog of `total` fixes in flushes of INGEST_FLUSH_ROWS, or the `singles` one per flush.
    const backlog = { broker: broker.address, topic: 'bench.big', expect: total, flushRows: batchRows };
    const oneByOne = { broker: broker.address, topic: 'bench.small', expect: singles, flushRows: 1 };
    const alone: ConsumeResult[] = [];
    for (let r = 0; r < rounds; r++) {
      alone.push(await consume({ ...backlog, groupId: `b-e2e_no_store-${r}`, members: 1, discard: true }));
    }
    figures['e2e_no_store_fixes_per_s'] = median(alone.map((x) => x.steady));
    figures['e2e_no_store_cpu_us_per_fix'] = median(alone.map((x) => x.cpuUsPerFix));
    const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-db-'));
    let n = 0;
    const target = (name: 'sqlite' | 'pg') =>
      name === 'sqlite'
        ? { sqlitePath: join(dir, `${n++}.db`) }
        : { pgUrl: PG_URL, pgSchema: `bench_e2e_${process.pid}_${n++}` };
    for (const [name, members] of (opts.backends ?? (['sqlite', 'pg'] as const)).flatMap((b) =>
      memberCounts.map((m) => [b, m] as const),
    )) {
      const key = keyOf(name, members);
      const batched: ConsumeResult[] = [];
      const single: ConsumeResult[] = [];
      for (let r = 0; r < rounds; r++) {
        const big = target(name);
        batched.push(await consume({ ...backlog, groupId: `b-${key}-${r}`, members, ...big }));
        const small = target(name);
        single.push(await consume({ ...oneByOne, groupId: `s-${key}-${r}`, members, ...small }));
        for (const t of [big, small]) {
          if ('pgSchema' in t) {
            const s = new PostgresStore({ connectionString: PG_URL, schema: t.pgSchema });
            await s.dropSchema();
            await s.close();
          }
        }
      }
      const b = median(batched.map((x) => x.steady));
      const one = median(single.map((x) => x.steady));
      figures[`${key}_batched_fixes_per_s`] = b;
      figures[`${key}_batched_incl_join_fixes_per_s`] = median(batched.map((x) => x.withJoin));
      figures[`${key}_batched_cpu_us_per_fix`] = median(batched.map((x) => x.cpuUsPerFix));
      figures[`${key}_one_per_fix_fixes_per_s`] = one;
      figures[`${key}_batched_over_one_per_fix`] = round1(b / one);
    }
    // The goal's ratio: the default batched writer over the faster of the one-per-fix runs (one
    // member is usually faster there: no write lock to hand over between threads).
    for (const name of opts.backends ?? ['sqlite', 'pg']) {
      const best = Math.max(
        ...memberCounts.map((m) => figures[`${keyOf(name, m)}_one_per_fix_fixes_per_s`]!),
      );
      figures[`e2e_${name}_best_one_per_fix_fixes_per_s`] = best;
      figures[`e2e_${name}_batched_over_best_one_per_fix`] = round1(
        figures[`e2e_${name}_batched_fixes_per_s`]! / best,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await admin.disconnect();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
