// Live latency: from a fix entering the live path to an SSE client having parsed it, with
// 10,000 devices each sending one fix a second (goal: p99 <= 50 ms).
//
//   mode 'sink':   the fix is handed to LiveView.handleBatch (as the consumer runner does), in
//                  batches every 50 ms like the live group's flush interval.
//   mode 'broker': the fix is produced with kafkajs to the embedded broker/, consumed by the
//                  real `live` consumer group (ingest/consumer/runner.ts) into the live view.
// The SSE clients (one fleet stream carrying every device, plus per-device customer streams)
// run in a separate process so their parsing does not share the server's event loop; both
// processes stamp times with performance.timeOrigin + performance.now() (the same wall clock).
//
//   node --import tsx bench/live.ts [sink|broker|both] [devices] [seconds]
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openStore } from '../ingest/db/open.js';
import { startHttpServer } from '../ingest/http/server.js';
import { LiveView } from '../ingest/live/live-view.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { childBroker } from '../test/helpers/broker-harness.js';
import { openSse } from '../test/helpers/sse-client.js';

export interface LiveFigures {
  mode: 'sink' | 'broker';
  devices: number;
  seconds: number;
  fixesSent: number;
  /** Fleet stream: events received, share of sent fixes, latency percentiles (ms). */
  fleetEvents: number;
  fleetReceivedShare: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Per-device (customer) streams. */
  deviceStreams: number;
  deviceEvents: number;
  deviceP50Ms: number;
  deviceP99Ms: number;
  /** Updates merged before a client took them (a client not keeping up). */
  coalesced: number;
  /** From handing over (sink: handleBatch; broker: producer.send) to the live view having it. */
  toSinkP50Ms: number;
  toSinkP99Ms: number;
  /** How long handing one batch over took (broker: the produce round trip with acks=all). */
  sendP50Ms: number;
  sendP99Ms: number;
  /**
   * CPU time of the server process per fix (µs): live view, SSE formatting and writes (and, in
   * broker mode, the kafkajs producer and consumer). Independent of how busy the machine is.
   */
  serverCpuUsPerFix: number;
  /** 1-minute load average at the end: this machine's 2 cores are shared, read figures with it. */
  loadAvg: number;
}

const now = () => performance.timeOrigin + performance.now();
const TOKEN = 'bench-token-0123456789abcdef';
const BATCH_MS = 50;
const id = (i: number) => `dev-${String(i).padStart(5, '0')}`;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fixOf(i: number, seq: number, t: number): Fix {
  // Riders spread over a 20 km square, moving a little each second.
  return {
    deviceId: id(i),
    seq,
    time: Math.floor(t),
    lat: 52.4 + ((i * 7919) % 1000) / 5000 + seq * 0.00001,
    lon: 13.2 + ((i * 104729) % 1000) / 3500,
    speed: 5,
    course: 90,
    mode: 3,
  };
}

/** The client process: opens the streams and reports (stream, device, seq, time) when asked. */
async function clientMain(url: string, deviceStreams: number, devices: number): Promise<void> {
  const fleet: number[] = [];
  const perDevice: number[] = [];
  const rec = (out: number[]) => (e: { data: string }) => {
    const t = now();
    // Only deviceId and seq are needed; a full JSON.parse is what a real client does anyway.
    const f = JSON.parse(e.data) as Fix;
    out.push(Number(f.deviceId.slice(4)), f.seq, t);
  };
  const auth = { authorization: `Bearer ${TOKEN}` };
  const f = await openSse(`${url}/api/live`, auth, { keep: false });
  f.onEvent = rec(fleet);
  const step = Math.max(1, Math.floor(devices / Math.max(1, deviceStreams)));
  for (let k = 0; k < deviceStreams; k++) {
    const c = await openSse(`${url}/api/devices/${id(k * step)}/live`, auth, { keep: false });
    c.onEvent = rec(perDevice);
  }
  process.send?.({ ready: true });
  process.on('message', (m: { stop?: boolean }) => {
    if (!m.stop) return;
    process.send?.({ fleet, perDevice }, () => process.exit(0));
  });
}

interface Feed {
  /** Hands fixes to the live path; resolves when they are on their way. */
  send(fixes: Fix[]): Promise<void>;
  close(): Promise<void>;
}

async function directFeed(live: LiveView): Promise<Feed> {
  return { send: (fixes) => live.handleBatch(fixes), close: async () => {} };
}

/** A free TCP port on loopback (closed again at once; the broker binds it right after). */
async function brokerFeed(live: LiveView, dir: string, partitions: number): Promise<Feed> {
  const { Kafka, logLevel } = await import('kafkajs');
  const { runGroup } = await import('../ingest/consumer/runner.js');
  const { encodeFix } = await import('../shared/fixcodec.js');
  const { createLogger } = await import('../shared/log.js');
  const log = createLogger('bench-live', 'warn');
  // The embedded broker in its own process, as in production where Kafka is not in ours.
  const broker = await childBroker(null, join(dir, 'broker'));
  const kafka = new Kafka({ clientId: 'bench-live', brokers: [broker.address], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'gps.fixes', numPartitions: partitions }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const group = await runGroup({
    kafka,
    groupId: 'live',
    topic: 'gps.fixes',
    sink: live,
    flushRows: 500,
    flushMs: BATCH_MS,
    metrics: createIngestMetrics(),
    log,
  });
  // Wait until the group holds its partitions before producing.
  for (let i = 0; i < 200 && group.assigned().length < partitions; i++)
    await new Promise((r) => setTimeout(r, 50));
  return {
    async send(fixes) {
      await producer.send({
        topic: 'gps.fixes',
        acks: -1,
        messages: fixes.map((f) => ({ key: f.deviceId, value: encodeFix(f) })),
      });
    },
    async close() {
      await group.stop();
      await producer.disconnect();
      await admin.disconnect();
      await broker.stop();
    },
  };
}

export async function benchLive(
  opts: { mode?: 'sink' | 'broker'; devices?: number; seconds?: number; deviceStreams?: number } = {},
): Promise<LiveFigures> {
  const mode = opts.mode ?? 'sink';
  const devices = opts.devices ?? 10_000;
  const seconds = opts.seconds ?? 10;
  const deviceStreams = opts.deviceStreams ?? 100;
  const dir = mkdtempSync(join(tmpdir(), 'bench-live-'));
  const store = await openStore({ sqlitePath: join(dir, 'ingest.db') });
  const live = new LiveView();
  // When each fix reached the live view: splits broker + consumer time from the SSE part.
  const sunk: number[] = [];
  const handle = live.handleBatch.bind(live);
  live.handleBatch = (fixes) => {
    const t = now();
    for (const f of fixes) sunk.push(Number(f.deviceId.slice(4)), f.seq, t);
    return handle(fixes);
  };
  const ackMs: number[] = [];
  const metrics = createIngestMetrics();
  const srv = await startHttpServer({
    token: TOKEN,
    store,
    live,
    registry: metrics.registry,
    health: {},
    logger: false,
  });
  let client: ChildProcess | undefined;
  let feed: Feed | undefined;
  try {
    feed = mode === 'sink' ? await directFeed(live) : await brokerFeed(live, dir, 12);
    client = fork(
      fileURLToPath(import.meta.url),
      ['--client', srv.url, String(deviceStreams), String(devices)],
      {
        execArgv: ['--import', 'tsx'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      client!.once('message', () => resolve());
      client!.once('exit', (code) => reject(new Error(`bench client exited with ${code}`)));
    });

    // Each device sends once a second; every BATCH_MS the devices due in that slice are sent.
    const sentAt = new Float64Array(devices * (seconds + 1));
    const perSlice = Math.ceil(devices / (1000 / BATCH_MS));
    const slices = seconds * (1000 / BATCH_MS);
    const start = now();
    const cpu0 = process.cpuUsage();
    let fixesSent = 0;
    for (let s = 0; s < slices; s++) {
      const due = start + s * BATCH_MS;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const seq = Math.floor(s / (1000 / BATCH_MS)) + 1;
      const first = (s % (1000 / BATCH_MS)) * perSlice;
      const batch: Fix[] = [];
      const t = now();
      for (let i = first; i < Math.min(devices, first + perSlice); i++) {
        batch.push(fixOf(i, seq, t));
        sentAt[i * (seconds + 1) + seq] = t;
      }
      fixesSent += batch.length;
      await feed.send(batch);
      ackMs.push(now() - t);
    }
    // Let the last events arrive.
    await new Promise((r) => setTimeout(r, mode === 'broker' ? 2000 : 500));
    const cpu = process.cpuUsage(cpu0);
    const result = await new Promise<{ fleet: number[]; perDevice: number[] }>((resolve) => {
      client!.once('message', (m) => resolve(m as { fleet: number[]; perDevice: number[] }));
      client!.send({ stop: true });
    });
    const lat = (rows: number[]) => {
      const out: number[] = [];
      for (let k = 0; k < rows.length; k += 3) {
        const sent = sentAt[rows[k]! * (seconds + 1) + rows[k + 1]!];
        // seq 0 / unsent = the snapshot of a position from before the stream opened.
        if (sent) out.push(rows[k + 2]! - sent);
      }
      return Float64Array.from(out).sort();
    };
    const fleetLat = lat(result.fleet);
    const sinkLat = lat(sunk);
    const acks = Float64Array.from(ackMs).sort();
    const devLat = lat(result.perDevice);
    const round = (v: number) => Math.round(v * 100) / 100;
    return {
      mode,
      devices,
      seconds,
      fixesSent,
      fleetEvents: fleetLat.length,
      fleetReceivedShare: round(fleetLat.length / fixesSent),
      p50Ms: round(percentile(fleetLat, 50)),
      p99Ms: round(percentile(fleetLat, 99)),
      maxMs: round(fleetLat.at(-1) ?? Number.NaN),
      deviceStreams,
      deviceEvents: devLat.length,
      deviceP50Ms: round(percentile(devLat, 50)),
      deviceP99Ms: round(percentile(devLat, 99)),
      coalesced: live.stats().coalesced,
      toSinkP50Ms: round(percentile(sinkLat, 50)),
      toSinkP99Ms: round(percentile(sinkLat, 99)),
      sendP50Ms: round(percentile(acks, 50)),
      sendP99Ms: round(percentile(acks, 99)),
      serverCpuUsPerFix: round((cpu.user + cpu.system) / fixesSent),
      loadAvg: round(loadavg()[0]!),
    };
  } finally {
    client?.kill();
    await feed?.close();
    await srv.app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] === self) {
  if (process.argv[2] === '--client') {
    void clientMain(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
  } else {
    const which = process.argv[2] ?? 'sink';
    const devices = Number(process.argv[3] ?? 10_000);
    const seconds = Number(process.argv[4] ?? 10);
    for (const mode of which === 'both' ? (['sink', 'broker'] as const) : [which as 'sink' | 'broker']) {
      const f = await benchLive({ mode, devices, seconds });
      process.stdout.write(`${JSON.stringify(f)}\n`);
    }
  }
}
