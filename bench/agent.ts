// Agent figures (a script, not a test):
//   node --import tsx bench/agent.ts [--live-seconds 60] [--drain-fixes 200000] [--batch N]   (prints JSON)
// benchAgent() returns the same figures for bench/run.ts.
//
// 1. disk: bytes written to disk per fix by the outbox at 1 Hz (store, send, delete), from
//    /proc/self/io (write_bytes: what reached the block device; wchar: what write() was given),
//    for the chosen 1 KiB pages, SQLite's default 4 KiB, and group commit of 5 fixes.
// 2. live: the real agent process (`agent run --replay --loop --speed 1`, so one fix a second)
//    sending to the embedded broker (its own process): RSS, CPU, wire bytes per fix, disk bytes
//    per fix of the whole process; as the service runs it (bundle) and from sources (tsx).
// 3. drain: a backlog in the outbox, then `agent run` starts with the broker (its own process) up:
//    fixes/s and wire bytes per fix, and the RSS while draining and at 1 Hz afterwards (what a
//    device holds after a tunnel); also the Sender alone in this process.
// The bundle runs with the node flags of systemd/gps-agent.service's ExecStart, as the service.
// The machine is shared: run it when nothing else does, and compare figures of one run.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAgent } from '../agent/build.js';
import { Outbox, readAgentState } from '../agent/outbox/outbox.js';
import { openOutboxDb } from '../agent/outbox/schema.js';
import { DEFAULT_BATCH_SIZE, Sender, type SenderStats } from '../agent/sender/sender.js';
import type { Position } from '../shared/fix.js';
import { createLogger } from '../shared/log.js';
import { childBroker } from '../test/helpers/broker-harness.js';
import { median } from './median.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/sirfstarv-nmea.log');
const CLK_TCK = 100;
const quiet = createLogger('bench', 'silent');
const UNIT = join(ROOT, 'systemd/gps-agent.service');
/** How long the agent runs at 1 Hz after a drain before its RSS is sampled (V8 shrinks lazily). */
const AFTER_DRAIN_SETTLE_MS = 10_000;
const AFTER_DRAIN_SAMPLES = 20;

/** The node flags the service runs with: the words between node and the bundle in ExecStart. */
export function serviceNodeFlags(unit = readFileSync(UNIT, 'utf8')): string[] {
  const words = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
  const bundle = words.findIndex((w) => w.endsWith('.mjs'));
  if (bundle < 1) throw new Error(`${UNIT}: no ExecStart=node ... bundle.mjs line`);
  return words.slice(1, bundle);
}

/** The allocator and libuv settings the service runs with (Environment=MALLOC_*=, UV_*= lines). */
export function serviceRuntimeEnv(unit = readFileSync(UNIT, 'utf8')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=((?:MALLOC_|UV_)\w+)=(\S+)$/gm)) env[m[1]!] = m[2]!;
  return env;
}

export interface LiveFigures {
  seconds: number;
  fixes: number;
  rssMb: { median: number; max: number };
  /** Of the RSS: private memory (heap, stacks, malloc) vs file-backed pages (node binary, addons). */
  rssAnonMb: number;
  rssFileMb: number;
  cpuPercent: number;
  /** Over the whole run, connection set-up included. */
  wireBytesPerFix: number;
  /** In the measured window only: what each further fix costs. */
  wireBytesPerFixSteady: number;
  /** write_bytes of the agent process in the window, per fix (outbox commits, WAL checkpoints). */
  diskWriteBytesPerFix: number;
}

export interface DrainFigures {
  fixes: number;
  seconds: number;
  fixesPerSecond: number;
  wireBytesPerFix: number;
}

export interface DrainProcessFigures extends DrainFigures {
  /** Highest RSS sampled while draining, MB. */
  peakRssMb: number;
  /** At 1 Hz once drained (after AFTER_DRAIN_SETTLE_MS), median of the samples, MB. */
  rssAfterMb: { median: number; max: number };
  rssAnonAfterMb: number;
}

export interface AgentFigures {
  disk: {
    fixes: number;
    pageSize1k: { writeBytesPerFix: number; wcharPerFix: number };
    pageSize4k: { writeBytesPerFix: number; wcharPerFix: number };
    /** OUTBOX_COMMIT_MS=5000: five fixes a commit. */
    pageSize1kCommit5: { writeBytesPerFix: number; wcharPerFix: number };
  };
  /** The agent as the service runs it (dist/gps-agent.mjs) and from sources through tsx. */
  live: { bundle: LiveFigures; sources: LiveFigures };
  /** Node flags of the unit's ExecStart, used for the bundle runs. */
  serviceNodeFlags: string[];
  serviceRuntimeEnv: Record<string, string>;
  drain: {
    bundle: DrainProcessFigures;
    sources: DrainProcessFigures;
    senderInProcess: DrainFigures & { batchSize: number };
  };
  goals: { rssMb: number; drainFixesPerSecond: number };
}

function position(i: number): Position {
  return {
    time: Date.UTC(2026, 10, 1) + i * 1000,
    lat: 52.52 + i * 1e-5,
    lon: 13.405 + i * 7e-6,
    alt: 34.5 + (i % 10) / 10,
    speed: 5 + (i % 7),
    course: (i * 3) % 360,
    hdop: 0.9,
    sats: 9,
    mode: 3,
    quality: 1,
  };
}

function procIo(pid: number | 'self'): { writeBytes: number; wchar: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { writeBytes: get('write_bytes'), wchar: get('wchar') };
}

/** Outbox alone at the live pattern: append, send the newest, its delete rides the next append. */
export function diskPerFix(
  fixes: number,
  pageSize: number,
  commitEvery = 1,
): { writeBytesPerFix: number; wcharPerFix: number } {
  // Not /tmp: it could be a tmpfs, which writes nothing to a disk.
  const dir = mkdtempSync(join(ROOT, '.bench-outbox-'));
  try {
    const ob = new Outbox(join(dir, 'outbox.db'), { pageSize });
    for (let i = 0; i < 50; i++) {
      ob.append('bike-1', position(i));
      ob.markSent(ob.newestUnsent());
    }
    const before = procIo('self');
    for (let i = 50; i < 50 + fixes; i += commitEvery) {
      ob.appendMany(
        Array.from({ length: commitEvery }, (_, k) => ({ deviceId: 'bike-1', position: position(i + k) })),
      );
      ob.markSent(ob.oldestUnsent(commitEvery));
    }
    ob.flush();
    ob.db.pragma('wal_checkpoint(PASSIVE)');
    const after = procIo('self');
    ob.close();
    return {
      writeBytesPerFix: Math.round((after.writeBytes - before.writeBytes) / fixes),
      wcharPerFix: Math.round((after.wchar - before.wchar) / fixes),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The embedded broker in its own process (its own core), as in production it is elsewhere. */
async function brokerProcess(): Promise<{ address: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(ROOT, '.bench-broker-'));
  const broker = await childBroker(null, dataDir);
  return {
    address: broker.address,
    async stop() {
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function procStat(pid: number): { cpuTicks: number; rssKb: number; anonKb: number; fileKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0);
  return { cpuTicks, rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), fileKb: kb('RssFile') };
}

/** `entry`: how to start the agent: the sources through tsx, or a bundle from build-agent. */
export async function benchLive(
  seconds: number,
  entry: string[] = ['--import', 'tsx', join(ROOT, 'agent/main.ts')],
  nodeFlags: string[] = [],
  env: Record<string, string> = {},
): Promise<LiveFigures> {
  const broker = await brokerProcess();
  const dir = mkdtempSync(join(ROOT, '.bench-agent-'));
  try {
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        ...entry,
        'run',
        '--replay',
        FIXTURE,
        '--loop',
        '--speed',
        '1',
        '--device',
        'bench-1',
        '--db',
        join(dir, 'outbox.db'),
        '--brokers',
        broker.address,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, LOG_LEVEL: 'info' } },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const pid = child.pid!;
    const db = join(dir, 'outbox.db');
    // Warm-up: start, connect, JIT. Then measure the steady state.
    await new Promise((r) => setTimeout(r, 10_000));
    const k0 = senderStats(db);
    const io0 = procIo(pid);
    const s0 = procStat(pid);
    const t0 = Date.now();
    const rss: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    while (Date.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const st = procStat(pid);
      rss.push(st.rssKb / 1024);
      anon.push(st.anonKb / 1024);
      file.push(st.fileKb / 1024);
    }
    const s1 = procStat(pid);
    const io1 = procIo(pid);
    await new Promise((r) => setTimeout(r, 5500)); // one more state publication
    const k1 = senderStats(db);
    const elapsed = (Date.now() - t0) / 1000;
    await stopChild(child);
    const stopped = out
      .split('\n')
      .filter((l) => l.includes('"agent stopped"'))
      .map((l) => JSON.parse(l) as { sent: { liveFixes: number; liveBytes: number; drainFixes: number } })[0];
    if (!stopped) throw new Error(`agent did not report its figures:\n${out.slice(-2000)}`);
    const fixes = stopped.sent.liveFixes + stopped.sent.drainFixes;
    // Fixes in the measured window: one a second.
    const windowFixes = Math.round(elapsed);
    return {
      seconds: Math.round(elapsed),
      fixes,
      rssMb: { median: Math.round(median(rss) * 10) / 10, max: Math.round(Math.max(...rss) * 10) / 10 },
      rssAnonMb: Math.round(median(anon) * 10) / 10,
      rssFileMb: Math.round(median(file) * 10) / 10,
      cpuPercent: Math.round(((s1.cpuTicks - s0.cpuTicks) / CLK_TCK / elapsed) * 1000) / 10,
      wireBytesPerFix: Math.round(stopped.sent.liveBytes / Math.max(1, stopped.sent.liveFixes)),
      wireBytesPerFixSteady: Math.round(
        (k1.liveBytes - k0.liveBytes) / Math.max(1, k1.liveFixes - k0.liveFixes),
      ),
      diskWriteBytesPerFix: Math.round((io1.writeBytes - io0.writeBytes) / windowFixes),
    };
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The running agent's sender counters, as it publishes them for `agent status` (every 5 s). */
function senderStats(db: string): SenderStats {
  const conn = openOutboxDb(db, { readonly: true });
  try {
    const kafka = readAgentState(conn)['kafka']?.value as { stats: SenderStats } | undefined;
    if (!kafka) throw new Error(`${db}: the agent has not published its Kafka state`);
    return kafka.stats;
  } finally {
    conn.close();
  }
}

export async function benchDrain(
  fixes: number,
  batchSize: number,
): Promise<DrainFigures & { batchSize: number }> {
  const broker = await brokerProcess();
  const dir = mkdtempSync(join(ROOT, '.bench-drain-'));
  try {
    const ob = new Outbox(join(dir, 'outbox.db'), { maxRows: fixes + 1 });
    for (let i = 0; i < fixes; i += 10_000) {
      ob.appendMany(
        Array.from({ length: Math.min(10_000, fixes - i) }, (_, k) => ({
          deviceId: 'bike-1',
          position: position(i + k),
        })),
      );
    }
    const sender = new Sender({
      outbox: ob,
      kafka: { brokers: [broker.address], clientId: 'bench' },
      topic: 'gps.fixes',
      log: quiet,
      batchSize,
    });
    const t0 = process.hrtime.bigint();
    sender.start();
    while (ob.pendingCount() > 0) await new Promise((r) => setTimeout(r, 20));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await sender.stop();
    ob.close();
    const s = sender.stats;
    return {
      fixes,
      seconds: Math.round(seconds * 100) / 100,
      fixesPerSecond: Math.round(fixes / seconds),
      wireBytesPerFix: Math.round(((s.drainBytes + s.liveBytes) / fixes) * 10) / 10,
      batchSize,
    };
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Drain as the real agent process does it: a backlog of `fixes` is put in an outbox, then
 * `agent run` starts on it with the broker up; fixes/s from the first row leaving to the last.
 */
export async function benchDrainProcess(
  fixes: number,
  entry: string[] = ['--import', 'tsx', join(ROOT, 'agent/main.ts')],
  nodeFlags: string[] = [],
  env: Record<string, string> = {},
): Promise<DrainProcessFigures> {
  const broker = await brokerProcess();
  const dir = mkdtempSync(join(ROOT, '.bench-drainp-'));
  const db = join(dir, 'outbox.db');
  try {
    const ob = new Outbox(db, { maxRows: fixes + 100 });
    for (let i = 0; i < fixes; i += 10_000) {
      ob.appendMany(
        Array.from({ length: Math.min(10_000, fixes - i) }, (_, k) => ({
          deviceId: 'bench-1',
          position: position(i + k),
        })),
      );
    }
    ob.close();
    const backlog = () => {
      const conn = openOutboxDb(db, { readonly: true });
      try {
        return (conn.prepare('SELECT coalesce(sum(pending), 0) AS n FROM device').get() as { n: number }).n;
      } finally {
        conn.close();
      }
    };
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        ...entry,
        'run',
        '--replay',
        FIXTURE,
        '--loop',
        '--device',
        'bench-1',
        '--db',
        db,
        '--brokers',
        broker.address,
      ],
      { cwd: ROOT, stdio: 'ignore', env: { ...process.env, ...env, OUTBOX_MAX_ROWS: String(fixes + 100) } },
    );
    try {
      const pid = child.pid!;
      while (backlog() >= fixes) await new Promise((r) => setTimeout(r, 10));
      const t0 = process.hrtime.bigint();
      let peakKb = 0;
      while (backlog() > 2) {
        peakKb = Math.max(peakKb, procStat(pid).rssKb);
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      await new Promise((r) => setTimeout(r, Math.max(5500, AFTER_DRAIN_SETTLE_MS))); // counters published
      const k = senderStats(db);
      const rss: number[] = [];
      const anon: number[] = [];
      for (let i = 0; i < AFTER_DRAIN_SAMPLES; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const st = procStat(pid);
        rss.push(st.rssKb / 1024);
        anon.push(st.anonKb / 1024);
      }
      const r1 = (x: number) => Math.round(x * 10) / 10;
      return {
        fixes,
        seconds: Math.round(seconds * 100) / 100,
        fixesPerSecond: Math.round(fixes / seconds),
        wireBytesPerFix: Math.round(((k.drainBytes + k.liveBytes) / (k.drainFixes + k.liveFixes)) * 10) / 10,
        peakRssMb: r1(peakKb / 1024),
        rssAfterMb: { median: r1(median(rss)), max: r1(Math.max(...rss)) },
        rssAnonAfterMb: r1(median(anon)),
      };
    } finally {
      await stopChild(child);
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchAgent(
  opts: { liveSeconds?: number; drainFixes?: number; diskFixes?: number; batchSize?: number } = {},
): Promise<AgentFigures> {
  const diskFixes = opts.diskFixes ?? 600;
  const drainFixes = opts.drainFixes ?? 200_000;
  const liveSeconds = opts.liveSeconds ?? 60;
  const disk = {
    fixes: diskFixes,
    pageSize1k: diskPerFix(diskFixes, 1024),
    pageSize4k: diskPerFix(diskFixes, 4096),
    pageSize1kCommit5: diskPerFix(diskFixes, 1024, 5),
  };
  const bundle = [await buildAgent()];
  const flags = serviceNodeFlags();
  const runtimeEnv = serviceRuntimeEnv();
  return {
    disk,
    live: {
      bundle: await benchLive(liveSeconds, bundle, flags, runtimeEnv),
      sources: await benchLive(liveSeconds),
    },
    serviceNodeFlags: flags,
    serviceRuntimeEnv: runtimeEnv,
    drain: {
      bundle: await benchDrainProcess(drainFixes, bundle, flags, runtimeEnv),
      sources: await benchDrainProcess(drainFixes),
      senderInProcess: await benchDrain(drainFixes, opts.batchSize ?? DEFAULT_BATCH_SIZE),
    },
    goals: { rssMb: 50, drainFixesPerSecond: 20_000 },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const figures = await benchAgent({
    liveSeconds: arg('live-seconds'),
    drainFixes: arg('drain-fixes'),
    batchSize: arg('batch'),
  });
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
}
