// `npm run bench`: every benchmark in turn, progress on stderr, then one table on stdout with the
// machine it ran on. The raw figures of each part go to bench/results/latest.json, and the table
// to bench/results/latest.md, which the README quotes.
//
//   npm run bench                 all parts (about 11 minutes on 2 cores)
//   npm run bench -- --memory     also the broker's 10 topics x 12 partitions x 1 GB memory check
//   npm run bench -- --only agent,ingest   those parts again; the others keep their last figures
//   npm run bench -- --report             latest.md again from latest.json, nothing measured
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchGpsDecode } from '../agent/gps/bench-decode.js';
import { benchAgent } from './agent.js';
import { benchBroker } from './broker.js';
import { benchGroups } from './broker-groups.js';
import { benchIngest } from './ingest.js';
import { benchLive } from './live.js';
import { benchTripsReconnect } from './trips-reconnect.js';

/** One row of the table: what, how much, and the goal the issues set (if any). */
interface Row {
  part: string;
  figure: string;
  value: string;
  goal?: string;
  met?: boolean;
}

type Figures = Record<string, unknown>;
// The parts' figure objects are nested JSON; the table picks a few numbers out of them.
const num = (f: unknown, ...path: string[]): number => {
  let v: unknown = f;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return typeof v === 'number' ? v : Number.NaN;
};
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a';

interface Part {
  name: string;
  what: string;
  run: (o: { memory: boolean }) => Promise<Figures>;
  rows: (f: Figures) => Row[];
}

const PARTS: Part[] = [
  {
    name: 'broker',
    what: 'produce/consume 100-byte records, acks=-1, through kafkajs and kcat; broker RSS',
    run: async ({ memory }) => (await benchBroker({ memory })) as unknown as Figures,
    rows: (f) => {
      const rows: Row[] = [
        ['kafkajs produce', 'kafkajsProduce'],
        ['kafkajs consume', 'kafkajsConsume'],
        ['kcat produce', 'kcatProduce'],
        ['kcat consume', 'kcatConsume'],
      ].map(([label, key]) => ({
        part: 'broker',
        figure: `${label} (records/s, MB/s)`,
        value: `${fmt(num(f, key!, 'recordsPerSec'))} / ${fmt(num(f, key!, 'mbPerSec'), 1)}`,
      }));
      const gc = (f['groupCommit'] as Figures[] | undefined)?.at(-1);
      rows.push({
        part: 'broker',
        figure: `acks=-1 requests per fsync, ${fmt(num(gc, 'producers'))} producers`,
        value: fmt(num(gc, 'waitersPerRound'), 1),
      });
      rows.push({
        part: 'broker',
        figure: 'peak RSS during the throughput runs (MB)',
        value: fmt(num(f, 'brokerPeakRssMb'), 1),
        goal: '< 150',
        met: num(f, 'brokerPeakRssMb') < 150,
      });
      if (f['memory']) {
        const peak = Math.max(
          num(f, 'memory', 'peakRssWhileFillingMb'),
          num(f, 'memory', 'peakRssReadingAllPartitionsMb'),
        );
        rows.push({
          part: 'broker',
          figure: `peak RSS, ${fmt(num(f, 'memory', 'topics'))} topics x ${fmt(num(f, 'memory', 'partitions') / num(f, 'memory', 'topics'))} partitions, ${fmt(num(f, 'memory', 'retainedMb'))} MB retained (MB)`,
          value: fmt(peak, 1),
          goal: '< 150',
          met: peak < 150,
        });
      }
      return rows;
    },
  },
  {
    name: 'groups',
    what: 'consumer-group offset commits (fsync each, then many in flight), group formation',
    run: async () => (await benchGroups()) as unknown as Figures,
    rows: (f) => [
      {
        part: 'groups',
        figure: 'offset commits/s, one at a time',
        value: fmt(num(f, 'sequentialCommitsPerSec')),
      },
      {
        part: 'groups',
        figure: 'offset commits/s, 64 in flight (commits per fsync)',
        value: `${fmt(num(f, 'concurrentCommitsPerSec'))} (${fmt(num(f, 'commitsPerFsync'), 1)})`,
      },
      {
        part: 'groups',
        figure: '4 kafkajs consumers to a stable group (ms)',
        value: fmt(num(f, 'formGroupMs')),
      },
    ],
  },
  {
    name: 'gps',
    what: 'NMEA decoding of the fixture captures',
    run: async () => benchGpsDecode() as unknown as Figures,
    rows: (f) => [{ part: 'agent', figure: 'NMEA lines decoded/s', value: fmt(num(f, 'linesPerSecond')) }],
  },
  {
    name: 'agent',
    what: 'agent RSS and CPU at 1 Hz, outbox bytes per fix, backlog drain rate',
    run: async () => (await benchAgent()) as unknown as Figures,
    rows: (f) => [
      {
        part: 'agent',
        figure: 'RSS at 1 Hz, service bundle (median / max MB)',
        value: `${fmt(num(f, 'live', 'bundle', 'rssMb', 'median'), 1)} / ${fmt(num(f, 'live', 'bundle', 'rssMb', 'max'), 1)}`,
        goal: '<= 50',
        met: num(f, 'live', 'bundle', 'rssMb', 'max') <= 50,
      },
      {
        part: 'agent',
        figure: 'CPU at 1 Hz (% of one core)',
        value: fmt(num(f, 'live', 'bundle', 'cpuPercent'), 1),
      },
      {
        part: 'agent',
        figure: 'backlog drain, outbox to broker (fixes/s)',
        value: fmt(num(f, 'drain', 'bundle', 'fixesPerSecond')),
        goal: '>= 20,000',
        met: num(f, 'drain', 'bundle', 'fixesPerSecond') >= 20_000,
      },
      {
        part: 'agent',
        figure: 'RSS while draining the backlog / at 1 Hz after it (peak / median MB)',
        value: `${fmt(num(f, 'drain', 'bundle', 'peakRssMb'), 1)} / ${fmt(num(f, 'drain', 'bundle', 'rssAfterMb', 'median'), 1)}`,
      },
      {
        part: 'agent',
        figure: 'bytes per fix on the wire, live / draining',
        value: `${fmt(num(f, 'live', 'bundle', 'wireBytesPerFixSteady'))} / ${fmt(num(f, 'drain', 'bundle', 'wireBytesPerFix'))}`,
      },
      {
        part: 'agent',
        figure: 'bytes written to disk per fix, commit per fix / per 5 fixes',
        value: `${fmt(num(f, 'disk', 'pageSize1k', 'writeBytesPerFix'))} / ${fmt(num(f, 'disk', 'pageSize1kCommit5', 'writeBytesPerFix'))}`,
      },
    ],
  },
  {
    name: 'ingest',
    what: 'broker to database: batched writer against one INSERT per fix, SQLite and PostgreSQL',
    run: async () => (await benchIngest()) as unknown as Figures,
    rows: (f) => [
      {
        part: 'ingest',
        figure: 'broker to SQLite, batched, two fix-store members (the default) (fixes/s, past warm-up)',
        value: fmt(num(f, 'e2e_sqlite_batched_fixes_per_s')),
        goal: '>= 100,000',
        met: num(f, 'e2e_sqlite_batched_fixes_per_s') >= 100_000,
      },
      {
        part: 'ingest',
        figure:
          'broker to SQLite, one INSERT per fix, the faster of one or two members (fixes/s; batched over it)',
        value: `${fmt(num(f, 'e2e_sqlite_best_one_per_fix_fixes_per_s'))} (x${fmt(num(f, 'e2e_sqlite_batched_over_best_one_per_fix'), 1)})`,
        goal: 'x >= 50',
        met: num(f, 'e2e_sqlite_batched_over_best_one_per_fix') >= 50,
      },
      {
        part: 'ingest',
        figure:
          'one fix-store member (INGEST_FIX_STORE_MEMBERS=1): SQLite batched / one per fix (x); PostgreSQL batched / one per fix',
        value: `${fmt(num(f, 'e2e_sqlite_1_members_batched_fixes_per_s'))} / ${fmt(num(f, 'e2e_sqlite_1_members_one_per_fix_fixes_per_s'))} (x${fmt(num(f, 'e2e_sqlite_1_members_batched_over_one_per_fix'), 1)}); ${fmt(num(f, 'e2e_pg_1_members_batched_fixes_per_s'))} / ${fmt(num(f, 'e2e_pg_1_members_one_per_fix_fixes_per_s'))}`,
      },
      {
        part: 'ingest',
        figure: 'consumer process CPU per fix, broker to SQLite / PostgreSQL, batched, two members (us)',
        value: `${fmt(num(f, 'e2e_sqlite_batched_cpu_us_per_fix'), 2)} / ${fmt(num(f, 'e2e_pg_batched_cpu_us_per_fix'), 2)}`,
      },
      {
        part: 'ingest',
        figure: 'one member with no database (its sink only counts): fixes/s past warm-up; CPU per fix (us)',
        value: `${fmt(num(f, 'e2e_no_store_fixes_per_s'))}; ${fmt(num(f, 'e2e_no_store_cpu_us_per_fix'), 2)}`,
      },
      {
        part: 'ingest',
        figure: 'SQLite write path alone, batched / one per fix',
        value: `${fmt(num(f, 'sqlite_batched_fixes_per_s'))} / ${fmt(num(f, 'sqlite_one_per_fix_fixes_per_s'))} (x${fmt(num(f, 'sqlite_batched_over_one_per_fix'), 1)})`,
        goal: 'x >= 50',
        met: num(f, 'sqlite_batched_over_one_per_fix') >= 50,
      },
      {
        part: 'ingest',
        figure: 'broker to PostgreSQL, batched, two members / one per fix, the faster (fixes/s)',
        value: `${fmt(num(f, 'e2e_pg_batched_fixes_per_s'))} / ${fmt(num(f, 'e2e_pg_best_one_per_fix_fixes_per_s'))} (x${fmt(num(f, 'e2e_pg_batched_over_best_one_per_fix'), 1)})`,
      },
      {
        part: 'ingest',
        figure: 'PostgreSQL write path alone, unnest / COPY / one per fix',
        value: `${fmt(num(f, 'pg_unnest_batched_fixes_per_s'))} / ${fmt(num(f, 'pg_copy_batched_fixes_per_s'))} / ${fmt(num(f, 'pg_one_per_fix_fixes_per_s'))} (x${fmt(num(f, 'pg_unnest_over_one_per_fix'), 1)})`,
        goal: 'x >= 50',
        met: num(f, 'pg_unnest_over_one_per_fix') >= 50,
      },
    ],
  },
  {
    name: 'trips',
    what: 'the trips group: a morning in order, then a city-wide reconnect (bench/trips-reconnect.ts)',
    run: async () => benchTripsReconnect(),
    rows: (f) => [
      {
        part: 'trips',
        figure: '200 riders, 2 h in order: SQLite / PostgreSQL (fixes/s)',
        value: `${fmt(num(f, 'sqlite_morning_fixes_per_s'))} / ${fmt(num(f, 'postgres_morning_fixes_per_s'))}`,
      },
      {
        part: 'trips',
        figure: 'then a 20 min dead zone drained beside live fixes: SQLite / PostgreSQL (fixes/s)',
        value: `${fmt(num(f, 'sqlite_reconnect_fixes_per_s'))} / ${fmt(num(f, 'postgres_reconnect_fixes_per_s'))}`,
      },
      {
        part: 'trips',
        figure:
          'stored fixes the rebuilds read per late fix; devices whose rows differ from an in-order pass',
        value: `${fmt(num(f, 'sqlite_rebuild_reads_per_fix'), 2)}; ${fmt(num(f, 'sqlite_devices_differing_from_in_order') + num(f, 'postgres_devices_differing_from_in_order'))}`,
        goal: '0 differing',
        met:
          num(f, 'sqlite_devices_differing_from_in_order') === 0 &&
          num(f, 'postgres_devices_differing_from_in_order') === 0,
      },
    ],
  },
  {
    name: 'live',
    what: 'live latency to SSE clients, 10,000 devices at 1 Hz, fed directly and through the broker',
    run: async () => ({
      sink: await benchLive({ mode: 'sink' }),
      broker: await benchLive({ mode: 'broker' }),
      all: await benchLive({ mode: 'all' }),
    }),
    rows: (f) => [
      ...(['sink', 'broker', 'all'] as const).map((mode) => ({
        part: 'live',
        figure: `to SSE client, 10,000 devices at 1 Hz, ${LIVE_MODES[mode]} (p50 / p99 ms)`,
        value: `${fmt(num(f, mode, 'p50Ms'), 1)} / ${fmt(num(f, mode, 'p99Ms'), 1)}`,
        goal: 'p99 <= 50',
        met: num(f, mode, 'p99Ms') <= 50,
      })),
      {
        part: 'live',
        figure:
          'store groups beside it: every fix committed, after the last was sent (ms); process CPU per fix (us)',
        value: `${fmt(num(f, 'all', 'storeCaughtUpMs'))}; ${fmt(num(f, 'all', 'serverCpuUsPerFix'), 1)}`,
      },
    ],
  },
];

const LIVE_MODES = {
  sink: 'from the live sink',
  broker: 'from produce',
  all: 'from produce, store groups in the same process',
} as const;

function table(rows: Row[]): string {
  const head = '| part | figure | value | goal |\n| --- | --- | --- | --- |';
  const body = rows
    .map(
      (r) =>
        `| ${r.part} | ${r.figure} | ${r.value} | ${r.goal ? `${r.goal} ${r.met ? '(met)' : '(missed)'}` : ''} |`,
    )
    .join('\n');
  return `${head}\n${body}`;
}

/** One part's last measurement. */
interface PartResult {
  when: string;
  machine: string;
  load: string;
  figures: Figures;
}

const isoMinute = () => new Date().toISOString().slice(0, 16).replace('T', ' ');
const loadText = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

/** The last results, per part; older files (one run for all parts) are read too. */
function readResults(file: string): Record<string, PartResult> {
  if (!existsSync(file)) return {};
  const old = JSON.parse(readFileSync(file, 'utf8')) as {
    parts?: Record<string, PartResult>;
    machine?: string;
    when?: string;
    figures?: Record<string, Figures>;
  };
  if (old.parts) return old.parts;
  const out: Record<string, PartResult> = {};
  for (const [name, figures] of Object.entries(old.figures ?? {})) {
    out[name] = { when: old.when ?? '?', machine: old.machine ?? '?', load: '?', figures };
  }
  return out;
}

/** The table of every part measured so far, in PARTS order, each part's run named above it. */
function report(results: Record<string, PartResult>): string {
  const rows: Row[] = [];
  const runs = new Map<string, string[]>();
  for (const part of PARTS) {
    const r = results[part.name];
    if (!r) continue;
    const failed = r.figures['failed'];
    if (typeof failed === 'string') rows.push({ part: part.name, figure: 'failed', value: failed });
    else rows.push(...part.rows(r.figures));
    const run = `${r.when} UTC on ${r.machine}; load average ${r.load} at the end`;
    runs.set(run, [...(runs.get(run) ?? []), part.name]);
  }
  const heads = [...runs].map(([run, names]) => `Measured ${run}: ${names.join(', ')}.`);
  return `${heads.join('\n')}\n\n${table(rows)}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      memory: { type: 'boolean' },
      only: { type: 'string' },
      report: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench [-- --memory] [-- --only ${PARTS.map((p) => p.name).join(',')}] [-- --report]\n`,
    );
    return;
  }
  if (values.report) {
    // Only the table again, from the figures on disk (after editing the rows' wording, say).
    const md = `${report(readResults(join(import.meta.dirname, 'results', 'latest.json')))}\n`;
    writeFileSync(join(import.meta.dirname, 'results', 'latest.md'), md);
    process.stdout.write(md);
    return;
  }
  const only = values.only?.split(',');
  const unknown = only?.filter((n) => !PARTS.some((p) => p.name === n)) ?? [];
  if (unknown.length) throw new Error(`bench: unknown part ${unknown.join(', ')}`);
  const parts = PARTS.filter((p) => !only || only.includes(p.name));
  const cpu = cpus();
  const machine = `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${fmt(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const dir = join(import.meta.dirname, 'results');
  // --only re-measures some parts: the others keep their last figures, each with when it ran.
  const results = only ? readResults(join(dir, 'latest.json')) : {};
  const started = Date.now();
  for (const [i, part] of parts.entries()) {
    const t0 = Date.now();
    process.stderr.write(`[bench ${i + 1}/${parts.length}] ${part.name}: ${part.what} ...\n`);
    // Keep a heartbeat on the terminal: some parts run for minutes.
    const tick = setInterval(
      () =>
        process.stderr.write(
          `[bench ${i + 1}/${parts.length}] ${part.name}: ${Math.round((Date.now() - t0) / 1000)} s\n`,
        ),
      30_000,
    );
    let figures: Figures;
    try {
      figures = await part.run({ memory: values.memory ?? false });
    } catch (e) {
      figures = { failed: (e as Error).message.split('\n')[0]! };
    } finally {
      clearInterval(tick);
    }
    results[part.name] = { when: isoMinute(), machine, load: loadText(), figures };
    process.stderr.write(
      `[bench ${i + 1}/${parts.length}] ${part.name}: done in ${Math.round((Date.now() - t0) / 1000)} s\n`,
    );
  }
  const md = `${report(results)}\n`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify({ parts: results }, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), md);
  process.stdout.write(
    `\n${parts.map((p) => p.name).join(', ')} measured in ${Math.round((Date.now() - started) / 1000)} s\n\n${md}`,
  );
  // Benchmarks leave kafkajs sockets and timers behind; the figures are written, so end here.
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
