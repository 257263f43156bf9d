// Live latency: from a fix entering the live path to an SSE client having parsed it, with
// 10,000 devices each sending one fix a second (goal: p99 <= 50 ms).
//
//   mode 'sink':   the fix is handed to LiveView.handleBatch (as the consumer runner does).
//   mode 'broker': the fix is produced (acks=-1) to the embedded broker/ (its own process),
//                  consumed by the real `live` consumer group (ingest/consumer/runner.ts, with the
//                  ingest's live settings, ingest/live/group-options.ts) into the live view.
//   mode 'all':    as broker, with the fix-store and trips groups in the same process writing
//                  every fix to its SQLite file (default flush settings), as `npm run ingest -- run`
//                  runs them: on their own thread (ingest/groups-thread.ts), sharing the process,
//                  its 2 cores and the database with the live group.
// Every SLICE_MS the fixes of the devices due in that slice are sent, each stamped when it is
// handed over (broker mode: when its request is written to the socket). A slice never waits for
// an earlier one's acknowledgement: the devices are independent, and waiting would delay the
// later fixes' stamps and hide a slow broker. In broker mode the producer is a separate process
// (the agents are other machines) speaking the wire protocol itself, one request per slice
// (about 100 fixes over 12 partitions) over PRODUCERS connections, where 10,000 agents would each
// send one fix per request over their own connection.
// The server side runs in a process with the ingest's V8 flags; the SSE clients (one fleet
// stream carrying every device, plus per-device customer streams) in another, so their parsing
// does not share the server's event loop. All stamp times with performance.timeOrigin +
// performance.now() (the same wall clock).
//
//   node --import tsx bench/live.ts [sink|broker|all|both] [devices] [seconds]
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { type Reader, Writer } from '../broker/protocol/codec.js';
import { defaultFixStoreMembers, INGEST_NODE_FLAGS, ingestSpec } from '../ingest/config.js';
import { openStore, type StoreOptions } from '../ingest/db/open.js';
import { GroupsThread } from '../ingest/groups-thread.js';
import { startHttpServer } from '../ingest/http/server.js';
import { LiveView } from '../ingest/live/live-view.js';
import { createIngestMetrics } from '../ingest/metrics.js';
import type { Fix } from '../shared/fix.js';
import { encodeFix } from '../shared/fixcodec.js';
import { childBroker } from '../test/helpers/broker-harness.js';
import { buildBatch, RawClient, type RawRecord } from '../test/helpers/broker-raw.js';
import { committed } from '../test/helpers/ingest-kafka.js';
import { openSse } from '../test/helpers/sse-client.js';

export interface LiveFigures {
  mode: Mode;
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
  /** How long handing one slice over took (broker: the produce round trip with acks=-1). */
  sendP50Ms: number;
  sendP99Ms: number;
  /**
   * CPU time of the server process per fix (µs): live view, SSE formatting and writes (and, in
   * broker mode, the kafkajs consumer). Independent of how busy the machine is.
   */
  serverCpuUsPerFix: number;
  /** 1-minute load average at the end: this machine's 2 cores are shared, read figures with it. */
  loadAvg: number;
  /**
   * All mode: from the last fix sent until both store groups had committed every fix (offsets
   * are committed after the database transaction): whether they kept up beside the live group.
   */
  storeCaughtUpMs?: number;
}

const self = fileURLToPath(import.meta.url);
const now = () => performance.timeOrigin + performance.now();
const TOKEN = 'bench-token-0123456789abcdef';
/** A fix waits at most this long for the next send (a real agent sends each at once). */
const SLICE_MS = 10;
/**
 * Seconds sent before the measured ones and not counted: the first fixes meet cold code (JIT) in
 * every process, a start-up cost a running ingest does not pay per fix.
 */
const WARMUP_SECONDS = 2;
/**
 * Producer connections, taking the slices in turn. A broker answers one connection's requests in
 * order and an acks=-1 request only after its fsync, so one connection would carry at most one
 * slice per fsync; the agents each have their own.
 */
const PRODUCERS = 10;
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

/** The fixes of slice `s` (the devices due then, seq = the second), with GNSS time `t`. */
function sliceFixes(s: number, devices: number, t: number): Fix[] {
  const perSecond = 1000 / SLICE_MS;
  const perSlice = Math.ceil(devices / perSecond);
  const seq = Math.floor(s / perSecond) + 1;
  const first = (s % perSecond) * perSlice;
  const out: Fix[] = [];
  for (let i = first; i < Math.min(devices, first + perSlice); i++) out.push(fixOf(i, seq, t));
  return out;
}

interface SendReport {
  /** Per (device, seq): when it was handed over; index device * (seconds + 1) + seq. */
  sentAt: number[];
  /** Per slice, by slice index: how long the hand-over took (ms). */
  ackMs: number[];
  fixesSent: number;
  /** Partitions the broker refused (must be 0). */
  refused?: number;
}

/** Runs the slices from `start`, each at its due time, none waiting for an earlier one. */
async function runSlices(
  devices: number,
  seconds: number,
  start: number,
  send: (fixes: Fix[]) => { written: number; acked: Promise<void> },
): Promise<SendReport> {
  const sentAt = new Array<number>(devices * (seconds + 1)).fill(0);
  const ackMs: number[] = [];
  const inFlight: Promise<void>[] = [];
  let fixesSent = 0;
  const slices = seconds * (1000 / SLICE_MS);
  for (let s = 0; s < slices; s++) {
    const wait = start + s * SLICE_MS - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const batch = sliceFixes(s, devices, Date.now());
    const { written, acked } = send(batch);
    for (const f of batch) sentAt[Number(f.deviceId.slice(4)) * (seconds + 1) + f.seq] = written;
    fixesSent += batch.length;
    inFlight.push(
      acked.then(() => {
        ackMs[s] = now() - written;
      }),
    );
  }
  await Promise.all(inFlight);
  return { sentAt, ackMs, fixesSent };
}

/**
 * A Produce request (v7, acks=-1) carrying `fixes`, one record batch per partition; a device
 * always goes to the same partition, as its key would.
 */
function produceRequest(fixes: Fix[], partitions: number): Buffer {
  const byPartition = new Map<number, RawRecord[]>();
  for (const f of fixes) {
    const p = Number(f.deviceId.slice(4)) % partitions;
    const list = byPartition.get(p) ?? [];
    byPartition.set(p, list);
    list.push({ key: f.deviceId, value: encodeFix(f) });
  }
  const w = new Writer();
  w.nullableString(null).int16(-1).int32(30_000);
  w.int32(1).string('gps.fixes').int32(byPartition.size);
  for (const [p, records] of byPartition) w.int32(p).nullableBytes(buildBatch(records));
  return w.toBuffer();
}

/** Partitions a Produce v7 response refused. */
function produceErrors(r: Reader): number {
  let bad = 0;
  for (let t = r.int32(); t > 0; t--) {
    r.string();
    for (let n = r.int32(); n > 0; n--) {
      r.int32();
      if (r.int16() !== 0) bad++;
      r.int64n(); // base offset
      r.int64n(); // log append time
      r.int64n(); // log start offset
    }
  }
  return bad;
}

/**
 * The producer process (broker mode): the Kafka wire protocol directly, so simulating 10,000
 * agents costs this machine little CPU (kafkajs took half a core, taken from the broker and the
 * ingest), and a fix is stamped as its request is written to the socket, as an agent's is.
 */
async function producerMain(
  port: number,
  devices: number,
  seconds: number,
  partitions: number,
): Promise<void> {
  const conns = await Promise.all(
    Array.from({ length: PRODUCERS }, () => RawClient.connect(port, '127.0.0.1', 'bench-live')),
  );
  process.send?.({ ready: true });
  let slice = 0;
  let refused = 0;
  process.once('message', async (m: { start: number }) => {
    const report = await runSlices(devices, seconds, m.start, (fixes) => {
      const req = produceRequest(fixes, partitions);
      const written = now();
      const answer = conns[slice++ % PRODUCERS]!.request(ApiKey.Produce, 7, req);
      const acked = answer.then((r) => {
        refused += produceErrors(r);
      });
      return { written, acked };
    });
    for (const c of conns) c.close();
    process.send?.({ ...report, refused }, () => process.exit(0));
  });
}

/** Forks this file in another role and waits for its first message (ready). */
async function child(args: string[]): Promise<ChildProcess> {
  const c = fork(self, args, { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve, reject) => {
    c.once('message', () => resolve());
    c.once('exit', (code) => reject(new Error(`bench ${args[0]} process exited with ${code}`)));
  });
  return c;
}

type Mode = 'sink' | 'broker' | 'all';

/** Broker mode: the broker, the live group into `live` (all: and the store groups), the producer. */
async function brokerSetup(
  live: LiveView,
  dir: string,
  partitions: number,
  devices: number,
  seconds: number,
  storeGroups: StoreOptions | undefined,
) {
  const { logLevel } = await import('kafkajs');
  const { kafkaClient } = await import('../shared/kafka-client.js');
  const { runGroup } = await import('../ingest/consumer/runner.js');
  const { liveGroupOptions } = await import('../ingest/live/group-options.js');
  const { createLogger } = await import('../shared/log.js');
  const log = createLogger('bench-live', 'warn');
  // The embedded broker in its own process, as in production where Kafka is not in ours.
  const broker = await childBroker(null, join(dir, 'broker'));
  const kafka = kafkaClient({
    clientId: 'bench-live',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'gps.fixes', numPartitions: partitions }] });
  const metrics = createIngestMetrics();
  const flush = {
    flushRows: ingestSpec.INGEST_FLUSH_ROWS.default!,
    flushMs: ingestSpec.INGEST_FLUSH_MS.default!,
  };
  const groups = [
    await runGroup({
      kafka,
      groupId: 'live',
      topic: 'gps.fixes',
      sink: live,
      ...liveGroupOptions(flush),
      metrics,
      log,
    }),
  ];
  // As ingest/app.ts runs them beside the live group: one thread, one fix-store member
  // (INGEST_FIX_STORE_MEMBERS' default there; config.ts defaultFixStoreMembers).
  if (defaultFixStoreMembers(['live', 'fix-store', 'trips']) !== 1) {
    throw new Error('bench/live.ts runs one fix-store member; ingest run now runs more: run them here too');
  }
  const thread = storeGroups
    ? await GroupsThread.start(
        {
          kafka: { clientId: 'bench-live', brokers: [broker.address] },
          topic: 'gps.fixes',
          dlqTopic: 'gps.fixes.dlq',
          groups: ['fix-store', 'trips'],
          store: storeGroups,
          ...flush,
        },
        (group, e) => {
          throw new Error(`store group ${group} stopped: ${e.message}`);
        },
      )
    : undefined;
  // Wait until each group holds its partitions before producing.
  const assigned = async () => [
    ...groups.map((g) => g.assigned().length),
    ...((await thread?.states()) ?? []).map((s) => s.assigned.length),
  ];
  for (let i = 0; i < 200 && (await assigned()).some((n) => n < partitions); i++)
    await new Promise((r) => setTimeout(r, 50));
  const producer = await child([
    '--producer',
    String(broker.port),
    String(devices),
    String(seconds),
    String(partitions),
  ]);
  return {
    async run(start: number): Promise<SendReport> {
      return new Promise((resolve, reject) => {
        producer.once('message', (m) => resolve(m as SendReport));
        producer.once('exit', (code) => reject(new Error(`bench producer exited with ${code}`)));
        producer.send({ start });
      });
    },
    /** When fix-store and trips had committed the whole topic (undefined: not run here). */
    async storeCaughtUp(): Promise<number | undefined> {
      if (!thread) return undefined;
      const t0 = now();
      for (;;) {
        const ends = (await admin.fetchTopicOffsets('gps.fixes')).reduce((a, p) => a + Number(p.offset), 0);
        const done = await Promise.all(
          ['fix-store', 'trips'].map(async (groupId) => {
            const offsets = [...(await committed(admin, groupId, 'gps.fixes')).values()];
            return offsets.reduce((a, o) => a + Math.max(0, o), 0) === ends;
          }),
        );
        if (done.every(Boolean)) return now();
        if (now() - t0 > 120_000) throw new Error('the store groups did not catch up within 120 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      producer.kill();
      for (const g of groups) await g.stop();
      await thread?.stop();
      await admin.disconnect();
      await broker.stop();
    },
  };
}

type BenchOptions = { mode?: Mode; devices?: number; seconds?: number; deviceStreams?: number };

/**
 * Runs the bench with the server side (live view, HTTP, consumer) in a process started with the
 * ingest's V8 flags (ingest/config.ts), as `npm run ingest` runs it: its GC is part of the latency.
 */
export async function benchLive(opts: BenchOptions = {}): Promise<LiveFigures> {
  const c = fork(self, ['--server', JSON.stringify(opts)], {
    execArgv: [...INGEST_NODE_FLAGS, '--import', 'tsx'],
  });
  return new Promise((resolve, reject) => {
    c.once('message', (m) => resolve(m as LiveFigures));
    c.once('exit', (code) => reject(new Error(`bench server process exited with ${code}`)));
  });
}

async function runServer(opts: BenchOptions): Promise<LiveFigures> {
  const mode = opts.mode ?? 'sink';
  const devices = opts.devices ?? 10_000;
  const seconds = opts.seconds ?? 10;
  // What is sent: warm-up, then the measured seconds (seq > WARMUP_SECONDS).
  const total = WARMUP_SECONDS + seconds;
  const deviceStreams = opts.deviceStreams ?? 100;
  const dir = mkdtempSync(join(tmpdir(), 'bench-live-'));
  const storeOptions = { sqlitePath: join(dir, 'ingest.db') };
  const store = await openStore(storeOptions);
  const live = new LiveView();
  // When each fix reached the live view: splits broker + consumer time from the SSE part.
  const sunk: number[] = [];
  const handle = live.handleBatch.bind(live);
  live.handleBatch = (fixes) => {
    const t = now();
    for (const f of fixes) sunk.push(Number(f.deviceId.slice(4)), f.seq, t);
    return handle(fixes);
  };
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
  let broker: Awaited<ReturnType<typeof brokerSetup>> | undefined;
  try {
    if (mode !== 'sink')
      broker = await brokerSetup(live, dir, 12, devices, total, mode === 'all' ? storeOptions : undefined);
    client = await child(['--client', srv.url, String(deviceStreams), String(devices)]);
    const start = now() + 100;
    let cpu0 = process.cpuUsage();
    setTimeout(
      () => {
        cpu0 = process.cpuUsage();
      },
      start + WARMUP_SECONDS * 1000 - now(),
    );
    // Each device sends once a second; every SLICE_MS the devices due in that slice are sent.
    const sent = broker
      ? await broker.run(start)
      : await runSlices(devices, total, start, (fixes) => {
          const written = now();
          return { written, acked: live.handleBatch(fixes) };
        });
    if (sent.refused) throw new Error(`the broker refused ${sent.refused} partitions of produce requests`);
    const { sentAt } = sent;
    const fixesSent = sentAt.filter((t, k) => t > 0 && k % (total + 1) > WARMUP_SECONDS).length;
    const sentDone = now();
    const caughtUp = broker?.storeCaughtUp();
    // Let the last events arrive.
    await new Promise((r) => setTimeout(r, mode === 'sink' ? 500 : 2000));
    const cpu = process.cpuUsage(cpu0);
    const caughtUpAt = await caughtUp;
    const storeCaughtUpMs = caughtUpAt === undefined ? undefined : caughtUpAt - sentDone;
    const result = await new Promise<{ fleet: number[]; perDevice: number[] }>((resolve) => {
      client!.once('message', (m) => resolve(m as { fleet: number[]; perDevice: number[] }));
      client!.send({ stop: true });
    });
    const lat = (rows: number[]) => {
      const out: number[] = [];
      for (let k = 0; k < rows.length; k += 3) {
        const seq = rows[k + 1]!;
        const sent = sentAt[rows[k]! * (total + 1) + seq];
        // seq 0 / unsent = the snapshot of a position from before the stream opened.
        if (sent && seq > WARMUP_SECONDS) out.push(rows[k + 2]! - sent);
      }
      return Float64Array.from(out).sort();
    };
    const fleetLat = lat(result.fleet);
    const sinkLat = lat(sunk);
    const acks = Float64Array.from(sent.ackMs.slice(WARMUP_SECONDS * (1000 / SLICE_MS))).sort();
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
      ...(storeCaughtUpMs === undefined ? {} : { storeCaughtUpMs: Math.round(storeCaughtUpMs) }),
    };
  } finally {
    client?.kill();
    await broker?.close();
    await srv.app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === self) {
  if (process.argv[2] === '--server') {
    const f = await runServer(JSON.parse(process.argv[3]!) as BenchOptions);
    // kafkajs leaves sockets and timers behind; the figures are what matters.
    if (process.send) process.send(f, () => process.exit(0));
    else process.stdout.write(`${JSON.stringify(f)}\n`, () => process.exit(0));
  } else if (process.argv[2] === '--client') {
    void clientMain(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
  } else if (process.argv[2] === '--producer') {
    const [port, devices, seconds, partitions] = process.argv.slice(3).map(Number);
    void producerMain(port!, devices!, seconds!, partitions!);
  } else {
    const which = process.argv[2] ?? 'sink';
    const devices = Number(process.argv[3] ?? 10_000);
    const seconds = Number(process.argv[4] ?? 10);
    for (const mode of which === 'both' ? (['sink', 'broker'] as const) : [which as Mode]) {
      const f = await benchLive({ mode, devices, seconds });
      process.stdout.write(`${JSON.stringify(f)}\n`);
    }
  }
}
