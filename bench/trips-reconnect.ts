// The trips group after a city-wide reconnect: how fast it folds a dead zone's backlog in.
//   node --import tsx bench/trips-reconnect.ts [--devices 200] [--morning-min 120] [--dead-min 20]
//     [--drain-per-s 20] [--flush-rows 20000] [--backend sqlite|postgres|both]   (prints JSON figures)
//
// Each device has a morning of fixes (1 Hz) already folded in, then loses the network for the dead
// zone. On reconnect its agent drains the outbox oldest first (drain-per-s fixes a second) while
// live fixes keep coming, and the topic carries all devices interleaved; the trips group reads it
// in flushes of flush-rows (INGEST_FLUSH_ROWS: a lagging group flushes on size). Every flush but
// the first carries backlog older than the device's cursor: a late fix, so a rebuild.
// Figures per backend: fixes/s of the morning (in order) and of the reconnect, rebuilds, and the
// stored fixes those rebuilds read back per fix applied. The trip rows are checked against one
// in-order pass over each device's fixes.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ingestSpec } from '../ingest/config.js';
import { openStore } from '../ingest/db/open.js';
import { PostgresStore } from '../ingest/db/postgres.js';
import type { Store } from '../ingest/db/store.js';
import { accumulate, type TripDay } from '../ingest/trips/accumulate.js';
import type { Fix } from '../shared/fix.js';
import { fleetFixes, PG_URL } from './ingest.js';
import { printFigures } from './print-figures.js';

export interface ReconnectOptions {
  devices: number;
  morningMin: number;
  deadMin: number;
  /** Backlog fixes each agent sends per second of the stream, besides its live fix. */
  drainPerS: number;
  flushRows: number;
}

export const defaults: ReconnectOptions = {
  devices: 200,
  morningMin: 120,
  deadMin: 20,
  drainPerS: 20,
  flushRows: ingestSpec.INGEST_FLUSH_ROWS.default!,
};

interface Scenario {
  morning: Fix[];
  /** The topic after the reconnect: backlog and live fixes interleaved as the agents send them. */
  reconnect: Fix[];
  all: Fix[];
}

export function scenario(o: ReconnectOptions): Scenario {
  const morningS = o.morningMin * 60;
  const deadS = o.deadMin * 60;
  const drainS = Math.ceil(deadS / o.drainPerS);
  const totalS = morningS + deadS + drainS;
  const all = fleetFixes(totalS * o.devices, o.devices); // second i, device d at [i * devices + d]
  const at = (i: number, d: number) => all[i * o.devices + d]!;
  const morning = all.slice(0, morningS * o.devices);
  const reconnect: Fix[] = [];
  for (let s = 0; s < drainS; s++) {
    for (let d = 0; d < o.devices; d++) {
      const from = morningS + s * o.drainPerS;
      for (let i = from; i < Math.min(from + o.drainPerS, morningS + deadS); i++) reconnect.push(at(i, d));
      reconnect.push(at(morningS + deadS + s, d));
    }
  }
  return { morning, reconnect, all };
}

interface Totals {
  flushes: number;
  recomputedDays: number;
  rebuildReads: number;
  resumedRebuilds: number;
  seconds: number;
  /** CPU time of this process (all threads: the SQLite writer too), which other load moves less. */
  cpuUs: number;
}

async function feed(store: Store, fixes: Fix[], batch: number): Promise<Totals> {
  const t: Totals = {
    flushes: 0,
    recomputedDays: 0,
    rebuildReads: 0,
    resumedRebuilds: 0,
    seconds: 0,
    cpuUs: 0,
  };
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < fixes.length; i += batch) {
    const r = await store.applyTrips(fixes.slice(i, i + batch));
    t.flushes++;
    t.recomputedDays += r.recomputedDays;
    t.rebuildReads += r.rebuildReads;
    t.resumedRebuilds += r.resumedRebuilds;
  }
  t.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  t.cpuUs = used.user + used.system;
  return t;
}

/** Devices whose stored rows differ from one in-order pass over their fixes. */
async function mismatches(store: Store, all: Fix[]): Promise<number> {
  const byDevice = new Map<string, Fix[]>();
  for (const f of all) {
    const l = byDevice.get(f.deviceId);
    if (l) l.push(f);
    else byDevice.set(f.deviceId, [f]);
  }
  let bad = 0;
  for (const [deviceId, fixes] of byDevice) {
    const days = new Map<string, TripDay>();
    accumulate(deviceId, null, fixes, days);
    const want = [...days.values()];
    const got = await store.trips(deviceId);
    const same =
      got.length === want.length &&
      got.every(
        (g, i) =>
          g.day === want[i]!.day &&
          g.distanceM === want[i]!.distanceM &&
          g.movingS === want[i]!.movingS &&
          g.maxSpeedMps === want[i]!.maxSpeedMps &&
          g.fixes === want[i]!.fixes &&
          g.firstTime === want[i]!.firstTime &&
          g.lastTime === want[i]!.lastTime,
      );
    if (!same) bad++;
  }
  return bad;
}

async function scratch(backend: 'sqlite' | 'postgres'): Promise<{ store: Store; done(): Promise<void> }> {
  if (backend === 'postgres') {
    const store = new PostgresStore({ connectionString: PG_URL, schema: `bench_trips_${process.pid}` });
    await store.migrate();
    return {
      store,
      done: async () => {
        await store.dropSchema();
        await store.close();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-trips-'));
  const store = await openStore({ sqlitePath: join(dir, 't.db') });
  return {
    store,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function benchTripsReconnect(
  o: ReconnectOptions = defaults,
  backends: ('sqlite' | 'postgres')[] = ['sqlite', 'postgres'],
) {
  const sc = scenario(o);
  const out: Record<string, number> = {
    devices: o.devices,
    morning_min: o.morningMin,
    dead_min: o.deadMin,
    drain_per_s: o.drainPerS,
    flush_rows: o.flushRows,
    morning_fixes: sc.morning.length,
    reconnect_fixes: sc.reconnect.length,
    load_avg_1m_before: round(loadavg()[0]!, 1),
    cpus: cpus().length,
  };
  for (const b of backends) {
    const s = await scratch(b);
    try {
      const m = await feed(s.store, sc.morning, o.flushRows);
      const r = await feed(s.store, sc.reconnect, o.flushRows);
      out[`${b}_morning_fixes_per_s`] = Math.round(sc.morning.length / m.seconds);
      out[`${b}_morning_cpu_us_per_fix`] = round(m.cpuUs / sc.morning.length, 2);
      out[`${b}_reconnect_fixes_per_s`] = Math.round(sc.reconnect.length / r.seconds);
      out[`${b}_reconnect_cpu_us_per_fix`] = round(r.cpuUs / sc.reconnect.length, 2);
      out[`${b}_reconnect_s`] = round(r.seconds, 1);
      out[`${b}_reconnect_flushes`] = r.flushes;
      out[`${b}_recomputed_days`] = r.recomputedDays;
      out[`${b}_resumed_rebuilds`] = r.resumedRebuilds;
      out[`${b}_rebuild_reads`] = r.rebuildReads;
      out[`${b}_rebuild_reads_per_fix`] = round(r.rebuildReads / sc.reconnect.length, 2);
      out[`${b}_devices_differing_from_in_order`] = await mismatches(s.store, sc.all);
    } finally {
      await s.done();
    }
  }
  out['load_avg_1m_after'] = round(loadavg()[0]!, 1);
  return out;
}

/** Options from the command line; throws with the flag's name on a bad value. */
function parseOptions(argv: string[]): { o: ReconnectOptions; backends: ('sqlite' | 'postgres')[] } {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: 'string' },
      'morning-min': { type: 'string' },
      'dead-min': { type: 'string' },
      'drain-per-s': { type: 'string' },
      'flush-rows': { type: 'string' },
      backend: { type: 'string', default: 'both' },
    },
  });
  const int = (name: keyof typeof values, d: number) => {
    const v = values[name];
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: want a positive integer, got ${v}`);
    return n;
  };
  const o: ReconnectOptions = {
    devices: int('devices', defaults.devices),
    morningMin: int('morning-min', defaults.morningMin),
    deadMin: int('dead-min', defaults.deadMin),
    drainPerS: int('drain-per-s', defaults.drainPerS),
    flushRows: int('flush-rows', defaults.flushRows),
  };
  const b = values.backend;
  if (b !== 'both' && b !== 'sqlite' && b !== 'postgres') {
    throw new Error(`--backend: sqlite, postgres or both, got ${b}`);
  }
  return { o, backends: b === 'both' ? ['sqlite', 'postgres'] : [b] };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printFigures(async () => {
    const { o, backends } = parseOptions(process.argv.slice(2));
    return benchTripsReconnect(o, backends);
  });
}
