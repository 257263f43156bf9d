// Broker figures: produce and consume throughput with 100-byte records and acks=-1, through
// kafkajs and through kcat (librdkafka), the group-commit ratio (produce requests per fsync
// round) and the broker's peak RSS. The broker runs as a child process so its RSS is its own.
//   node --import tsx bench/broker.ts [--records N] [--memory] [--memory-gb G]
// --memory also fills 10 topics x 12 partitions with ~1 GB and reports RSS while holding it,
// after a restart on that data, and while consumers read across all partitions.
// benchBroker() returns the same figures for bench/run.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Kafka, logLevel, type Producer } from 'kafkajs';
import { kafkaClient } from '../shared/kafka-client.js';
import { type ChildBroker, childBroker } from '../test/helpers/broker-harness.js';
import { runCommand } from '../test/helpers/run.js';
import { printFigures } from './print-figures.js';

const RECORD_BYTES = 100;
const MB = 1024 * 1024;

interface Rate {
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** CPU the broker process used during the phase (user + system): who is the bottleneck. */
  brokerCpuSeconds?: number;
}

export interface BrokerFigures {
  recordBytes: number;
  kafkajsProduce: Rate;
  kafkajsConsume: Rate;
  kcatProduce: Rate;
  kcatConsume: Rate;
  /**
   * Group commit: N producers each sending one-record acks=-1 requests as fast as acks come
   * back, on a fresh broker. waitersPerRound = produce requests answered per fsync round.
   */
  groupCommit: GroupCommitFigures[];
  brokerPeakRssMb: number;
  memory?: MemoryFigures;
}

export interface GroupCommitFigures {
  producers: number;
  requestsPerSec: number;
  fsyncRounds: number;
  waitersPerRound: number;
}

export interface MemoryFigures {
  topics: number;
  partitions: number;
  retainedMb: number;
  fillMbPerSec: number;
  peakRssWhileFillingMb: number;
  rssAfterRestartMb: number;
  peakRssReadingAllPartitionsMb: number;
  /** Start after kill -9: every partition's active segment verified batch by batch (CRC). */
  uncleanStartMs: number;
  cleanStartMs: number;
  peakRssUncleanStartMb: number;
}

function rate(records: number, ms: number, bytes = records * RECORD_BYTES): Rate {
  const seconds = ms / 1000;
  return {
    records,
    seconds: round(seconds, 2),
    recordsPerSec: Math.round(records / seconds),
    mbPerSec: round(bytes / MB / seconds, 1),
  };
}

function round(n: number, d: number): number {
  return Math.round(n * 10 ** d) / 10 ** d;
}

/** The broker in its own process (so its RSS and CPU are its own), logging at info: the figures
 * below read its flush and load log lines. */
function startChild(dataDir: string, args: string[] = []): Promise<ChildBroker> {
  return childBroker(null, dataDir, args, { logLevel: 'info' });
}

/** How long the broker took to open its logs, from its "logs loaded" line. */
function loadMs(output: string): number {
  const m = /"ms":(\d+)[^\n]*logs loaded/.exec(output);
  return m ? Number(m[1]) : -1;
}

/** VmHWM (peak) or VmRSS (now) of a process, in MB. */
function rssMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? round(Number(m[1]) / 1024, 1) : -1;
}

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

async function phase(pid: number, run: () => Promise<Rate>): Promise<Rate> {
  const before = cpuSeconds(pid);
  const r = await run();
  return { ...r, brokerCpuSeconds: round(cpuSeconds(pid) - before, 2) };
}

/** Reset VmHWM so the next peak reading covers only what follows (Linux: write 5 to clear_refs). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not permitted: the peak then covers the whole run, which only overstates it
  }
}

function client(port: number): Kafka {
  return kafkaClient({ clientId: 'bench', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
}

/** Connected producers set up like the agent's sender: idempotent, one request in flight. */
function idempotentProducers(k: Kafka, n: number): Promise<Producer[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const p = k.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    }),
  );
}

async function kafkajsProduce(port: number, topic: string, total: number, producers = 4): Promise<Rate> {
  const ps = await idempotentProducers(client(port), producers);
  const value = Buffer.alloc(RECORD_BYTES - 16, 'x');
  const perBatch = 500;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    ps.map(async (p) => {
      while (next < total) {
        const n = Math.min(perBatch, total - next);
        const start = next;
        next += n;
        const messages = Array.from({ length: n }, (_, i) => ({
          key: `dev-${String((start + i) % 1000).padStart(8, '0')}`, // 12 + 84 + ~4 overhead ≈ 100 B
          value,
        }));
        await p.send({ topic, acks: -1, messages });
      }
    }),
  );
  const ms = performance.now() - t0;
  await Promise.all(ps.map((p) => p.disconnect()));
  return rate(total, ms);
}

async function kafkajsConsume(port: number, topic: string, total: number): Promise<Rate> {
  const c = client(port).consumer({ groupId: `bench-${Date.now()}`, maxBytesPerPartition: 4 * MB });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  let n = 0;
  let t0 = 0;
  await new Promise<void>((resolve, reject) => {
    c.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (t0 === 0) t0 = performance.now();
        n += batch.messages.length;
        if (n >= total) resolve();
      },
    }).catch(reject);
  });
  const ms = performance.now() - t0;
  await c.disconnect();
  return rate(n, ms);
}

/** kcat to completion; the time it took. A non-zero exit is a failed run. */
async function runKcat(args: string[], input?: string): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const r = await runCommand('kcat', args, { input, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  return { ms: performance.now() - t0, stdout: r.stdout };
}

async function kcatProduce(port: number, topic: string, total: number): Promise<Rate> {
  const line = 'y'.repeat(RECORD_BYTES - 1);
  const input = `${line}\n`.repeat(total);
  const { ms } = await runKcat(
    [
      '-b',
      `127.0.0.1:${port}`,
      '-P',
      '-t',
      topic,
      '-X',
      'acks=all',
      '-X',
      'enable.idempotence=true',
      '-X',
      'linger.ms=5',
    ],
    input,
  );
  return rate(total, ms);
}

async function kcatConsume(port: number, topic: string, expected: number): Promise<Rate> {
  const { ms, stdout } = await runKcat([
    '-b',
    `127.0.0.1:${port}`,
    '-C',
    '-t',
    topic,
    '-e',
    '-o',
    'beginning',
    '-q',
    '-f',
    '%o\n',
  ]);
  const n = stdout.split('\n').length - 1;
  if (n !== expected) throw new Error(`kcat consumed ${n} records, expected ${expected}`);
  return rate(n, ms);
}

async function createTopics(port: number, names: string[], partitions: number): Promise<void> {
  const admin = client(port).admin();
  await admin.connect();
  await admin.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: partitions })) });
  await admin.disconnect();
}

export async function benchBroker(opts: { records?: number; memory?: boolean; memoryGb?: number } = {}) {
  const records = opts.records ?? 200_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-broker-'));
  try {
    const b = await startChild(dataDir);
    await createTopics(b.port, ['bench-kafkajs', 'bench-kcat'], 12);
    const pid = b.proc.pid!;
    const kafkajsP = await phase(pid, () => kafkajsProduce(b.port, 'bench-kafkajs', records));
    const kafkajsC = await phase(pid, () => kafkajsConsume(b.port, 'bench-kafkajs', records));
    const kcatP = await phase(pid, () => kcatProduce(b.port, 'bench-kcat', records));
    const kcatC = await phase(pid, () => kcatConsume(b.port, 'bench-kcat', records));
    const peak = rssMb(b.proc.pid!, 'VmHWM');
    await b.stop();
    const groupCommit = [await benchGroupCommit(1), await benchGroupCommit(16)];
    const figures: BrokerFigures = {
      recordBytes: RECORD_BYTES,
      kafkajsProduce: kafkajsP,
      kafkajsConsume: kafkajsC,
      kcatProduce: kcatP,
      kcatConsume: kcatC,
      groupCommit,
      brokerPeakRssMb: peak,
    };
    if (opts.memory) figures.memory = await benchMemory(opts.memoryGb ?? 1);
    return figures;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `producers` concurrent idempotent producers, one record per acks=-1 request, for 3 seconds. */
async function benchGroupCommit(producers: number): Promise<GroupCommitFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-broker-gc-'));
  try {
    const b = await startChild(dataDir);
    await createTopics(b.port, ['gc'], 12);
    const ps = await idempotentProducers(client(b.port), producers);
    const value = Buffer.alloc(RECORD_BYTES - 16, 'g');
    let requests = 0;
    const t0 = performance.now();
    const until = t0 + 3000;
    await Promise.all(
      ps.map(async (p, i) => {
        while (performance.now() < until) {
          await p.send({ topic: 'gc', acks: -1, messages: [{ partition: i % 12, value }] });
          requests++;
        }
      }),
    );
    const ms = performance.now() - t0;
    await Promise.all(ps.map((p) => p.disconnect()));
    await b.stop();
    const m = /"flush":\{"rounds":(\d+),"waiters":(\d+)/.exec(b.output());
    const rounds = Number(m?.[1] ?? 0);
    const waiters = Number(m?.[2] ?? 0);
    return {
      producers,
      requestsPerSec: Math.round(requests / (ms / 1000)),
      fsyncRounds: rounds,
      waitersPerRound: round(waiters / Math.max(rounds, 1), 2),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Fill 10 topics x 12 partitions with ~`gb` GB, then check the broker's memory stays small. */
async function benchMemory(gb: number): Promise<MemoryFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-broker-mem-'));
  const topics = Array.from({ length: 10 }, (_, i) => `mem-${i}`);
  try {
    let b = await startChild(dataDir, ['--segment-bytes', String(32 * MB)]);
    await createTopics(b.port, topics, 12);
    const k = client(b.port);
    const producers = await Promise.all(
      [0, 1].map(async () => {
        const p = k.producer();
        await p.connect();
        return p;
      }),
    );
    const value = Buffer.alloc(8 * 1024, 'm'); // big records: fill fast; memory is about retained bytes
    const target = gb * 1024 * MB;
    let written = 0;
    let turn = 0;
    const t0 = performance.now();
    await Promise.all(
      producers.map(async (p) => {
        while (written < target) {
          const topic = topics[turn++ % topics.length]!;
          const messages = Array.from({ length: 120 }, (_, i) => ({ partition: i % 12, value }));
          written += messages.length * value.length;
          await p.send({ topic, acks: 1, messages });
        }
      }),
    );
    const fillMs = performance.now() - t0;
    await Promise.all(producers.map((p) => p.disconnect()));
    const peakFill = rssMb(b.proc.pid!, 'VmHWM');
    await b.stop();

    b = await startChild(dataDir, ['--segment-bytes', String(32 * MB)]);
    await new Promise((r) => setTimeout(r, 1000));
    const afterRestart = rssMb(b.proc.pid!, 'VmRSS');
    resetPeak(b.proc.pid!);
    // One consumer group reads every partition of every topic from the start for a while.
    const c = client(b.port).consumer({ groupId: 'mem-reader', maxBytesPerPartition: MB });
    await c.connect();
    await c.subscribe({ topics, fromBeginning: true });
    let readBytes = 0;
    await new Promise<void>((resolve, reject) => {
      c.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) readBytes += m.value?.length ?? 0;
          if (readBytes >= Math.min(target, 300 * MB)) resolve();
        },
      }).catch(reject);
    });
    await c.disconnect();
    const peakRead = rssMb(b.proc.pid!, 'VmHWM');
    const cleanStartMs = loadMs(b.output());
    await b.kill9();
    b = await startChild(dataDir, ['--segment-bytes', String(32 * MB)]);
    const uncleanStartMs = loadMs(b.output());
    const peakUnclean = rssMb(b.proc.pid!, 'VmHWM');
    await b.stop();
    return {
      topics: topics.length,
      partitions: topics.length * 12,
      retainedMb: Math.round(written / MB),
      fillMbPerSec: round(written / MB / (fillMs / 1000), 1),
      peakRssWhileFillingMb: peakFill,
      rssAfterRestartMb: afterRestart,
      peakRssReadingAllPartitionsMb: peakRead,
      uncleanStartMs,
      cleanStartMs,
      peakRssUncleanStartMb: peakUnclean,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  printFigures(() =>
    benchBroker({
      records: arg('--records') ? Number(arg('--records')) : undefined,
      memory: argv.includes('--memory'),
      memoryGb: arg('--memory-gb') ? Number(arg('--memory-gb')) : undefined,
    }),
  );
}
