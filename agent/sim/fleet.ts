// A simulated fleet in one process: N virtual devices through the same pipeline code as a real
// agent (positions -> outbox -> sender -> Kafka), for load tests and the demo.
//
// One outbox file shared by all devices, keyed by device (each has its own seq): one tick of the
// whole fleet is one transaction and one fsync, where a file per device would cost N fsyncs a
// second; and one Sender (one Kafka connection) sends for all of them.
//
//   const fleet = await startFleet({ devices: 50, db: 'sim.db', kafka: { brokers }, topic, log });
//   ...
//   await fleet.stop();
import type { KafkaConfig } from 'kafkajs';
import type { Position } from '../../shared/fix.js';
import type { Logger } from '../../shared/log.js';
import { monotonicMs } from '../../shared/monotonic.js';
import { Outbox, type OutboxOptions, readAgentState } from '../outbox/outbox.js';
import { type GpsState, heartbeat, STATE_EVERY_MS, startingAgentState } from '../pipeline.js';
import { Sender, type SenderStats } from '../sender/sender.js';
import { type CityGrid, DEFAULT_CITY } from './rider.js';
import { fleetTracks, type Track } from './tracks.js';

export interface FleetOptions {
  devices: number;
  /** Outbox file shared by the fleet. */
  db: string;
  /** kafkajs client settings (brokers, TLS, SASL); clientId defaults to gps-sim. */
  kafka: KafkaConfig;
  topic: string;
  log: Logger;
  /** Simulated seconds per real second (1 = real time; GNSS times then match the clock). */
  speed?: number;
  /** Stop ticking after this many simulated seconds, send what is left, stop (default: until stop()). */
  durationS?: number;
  seed?: number;
  /** NMEA captures to replay instead of riders on the street grid. */
  replay?: string[];
  /** Move the replayed captures onto the simulated city (shape and motion kept). */
  replayInCity?: boolean;
  city?: CityGrid;
  /** Device ids are prefix + a 4-digit number. */
  idPrefix?: string;
  outbox?: OutboxOptions;
  batchSize?: number;
  /**
   * Called once the outbox opened, before anything is stored or sent; what it throws closes the
   * outbox and rejects startFleet. `agent simulate` takes the outbox's lock here.
   */
  opened?: () => void;
}

export interface FleetStats {
  devices: number;
  ticks: number;
  stored: number;
  rejected: number;
  backlog: number;
  sender: SenderStats;
  connected: boolean;
}

export interface Fleet {
  readonly deviceIds: string[];
  readonly outbox: Outbox;
  stats(): FleetStats;
  /** Resolves once durationS is reached and all is sent (never without one), or after stop(). */
  readonly done: Promise<void>;
  /** Stops ticking, lets the sender finish its request in flight, closes the outbox. */
  stop(): Promise<void>;
}

/** Ticks between saves of where the riders are (a crash restarts them at most this far back). */
const SAVE_EVERY_TICKS = 30;
const SAVED = 'sim-tracks';

function saveTracks(outbox: Outbox, deviceIds: readonly string[], tracks: readonly Track[]): void {
  outbox.setState(SAVED, Object.fromEntries(deviceIds.map((id, i) => [id, tracks[i]!.snapshot()])));
}

/**
 * A restarted simulator carries each device on from where it was saved (its last stop, or at most
 * SAVE_EVERY_TICKS before a crash), so riders do not jump back to their start: a jump would show as
 * a long straight line on the map and count as distance in trips. Returns how many resumed.
 */
function resumeTracks(outbox: Outbox, deviceIds: readonly string[], tracks: readonly Track[]): number {
  const saved = readAgentState(outbox.db)[SAVED]?.value as Record<string, unknown> | undefined;
  if (typeof saved !== 'object' || saved === null) return 0;
  let n = 0;
  deviceIds.forEach((id, i) => {
    if (id in saved && tracks[i]!.restore(saved[id])) n++;
  });
  return n;
}

/**
 * The most riders one simulator runs (npm start's --devices too): each holds its track in
 * memory, and one tick is one transaction of them all.
 */
export const MAX_SIM_DEVICES = 100_000;

/** The id of simulated device n (1-based): the prefix and a number of at least 4 digits. */
export function simulatedId(prefix: string | undefined, n: number): string {
  return `${prefix ?? 'sim-'}${String(n).padStart(4, '0')}`;
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  if (!Number.isInteger(opts.devices) || opts.devices < 1)
    throw new RangeError('simulate: devices must be >= 1');
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new RangeError('simulate: speed must be > 0');
  const deviceIds = Array.from({ length: opts.devices }, (_, i) => simulatedId(opts.idPrefix, i + 1));
  const tracks: Track[] = fleetTracks(opts.devices, opts.seed ?? 1, opts.city ?? DEFAULT_CITY, opts.replay, {
    inCity: opts.replayInCity,
  });
  const outbox = new Outbox(opts.db, opts.outbox);
  try {
    opts.opened?.();
  } catch (e) {
    outbox.close();
    throw e;
  }
  const resumed = resumeTracks(outbox, deviceIds, tracks);
  const sender = new Sender({
    outbox,
    kafka: { clientId: 'gps-sim', ...opts.kafka },
    topic: opts.topic,
    log: opts.log,
    batchSize: opts.batchSize,
  });
  sender.start();

  let ticks = 0;
  let stored = 0;
  let rejected = 0;
  let lastFixAt: number | null = null;
  // The state rows a real agent writes, so that `agent status` on this outbox tells a running
  // simulator (its process, the Kafka link, the fleet's fixes) from one that stopped; without
  // them it said "never ran on this file" while the simulator ran. Committed every
  // STATE_EVERY_MS (a slow fleet ticks less often than that) and at stop.
  const agent = startingAgentState();
  const publishKafka = () => outbox.setState('kafka', { ...sender.state, stats: sender.stats });
  const publishState = () => {
    heartbeat(agent);
    outbox.setState('agent', agent);
    const gps: GpsState = {
      source: `simulated fleet of ${opts.devices}`,
      state: 'connected',
      detail: null,
      fix: lastFixAt === null ? 'no fix' : 'fix',
      fixes: stored,
      noFixes: 0,
      rejected,
      lastFixAt,
    };
    outbox.setState('gps', gps);
    publishKafka();
  };
  publishState();
  sender.onState(() => outbox.db.open && publishKafka());
  const commitState = () => {
    publishState();
    try {
      outbox.flush();
    } catch (e) {
      opts.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'simulate: state not written');
    }
  };
  const stateTimer = setInterval(commitState, STATE_EVERY_MS);
  stateTimer.unref();
  // GNSS time of the first tick: now, on a whole second, like a receiver's epochs.
  let clock = Math.floor(Date.now() / 1000) * 1000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));

  const tick = () => {
    const time = clock;
    clock += 1000;
    // Where each rider is rides along in the tick's transaction now and then (every tick would
    // be ~100 bytes a rider a second), and at stop: a restart carries on from there.
    if (ticks % SAVE_EVERY_TICKS === 0) saveTracks(outbox, deviceIds, tracks);
    const batch: { deviceId: string; position: Position }[] = [];
    for (const [i, deviceId] of deviceIds.entries()) {
      const position = tracks[i]!.next(time);
      if (position) batch.push({ deviceId, position }); // null: a replayed silence, no fix
    }
    const r = outbox.appendMany(batch);
    if (r.stored.length > 0) lastFixAt = Date.now();
    stored += r.stored.length;
    rejected += r.rejected.length;
    for (const x of r.rejected)
      opts.log.warn({ deviceId: x.deviceId, reason: x.reason }, 'simulated position rejected');
    ticks++;
    if (opts.durationS !== undefined && ticks >= opts.durationS) void drainThenStop();
  };

  // After the last tick: wait until the sender has emptied the outbox, then stop.
  const drainThenStop = async () => {
    stopped = true;
    clearTimeout(timer);
    while (!stopping && outbox.pendingCount() > 0) await new Promise((r) => setTimeout(r, 100));
    await stop();
  };

  // Ticks on a schedule (not setInterval), so a slow tick does not make the fleet drift. The
  // schedule runs on the monotonic clock: on the wall clock a step forward (NTP, a laptop waking
  // from sleep) made the fleet fire every tick it had "missed" at once, a burst of hours of fixes,
  // and a step back froze every rider for as long as the step.
  const started = monotonicMs();
  const schedule = () => {
    if (stopped) return;
    const due = started + (ticks * 1000) / speed;
    timer = setTimeout(
      () => {
        try {
          tick();
        } catch (e) {
          opts.log.error({ err: e instanceof Error ? e.message : String(e) }, 'simulate: tick failed');
        }
        schedule();
      },
      Math.max(0, due - monotonicMs()),
    );
  };
  schedule();
  opts.log.info(
    { devices: opts.devices, speed, db: opts.db, topic: opts.topic, resumed },
    'simulated fleet started',
  );

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(stateTimer);
      await sender.stop();
      saveTracks(outbox, deviceIds, tracks);
      agent.stoppedAt = Date.now();
      commitState();
      outbox.close();
      opts.log.info({ ticks, stored, sent: sender.stats }, 'simulated fleet stopped');
      finish();
    })();
    return stopping;
  };

  return {
    deviceIds,
    outbox,
    done,
    stop,
    stats: () => ({
      devices: opts.devices,
      ticks,
      stored,
      rejected,
      backlog: outbox.db.open ? outbox.pendingCount() : 0,
      sender: { ...sender.stats },
      connected: sender.state.connected,
    }),
  };
}
