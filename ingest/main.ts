// Entry point for `npm run ingest -- <command>`:
//   run       consume gps.fixes with the consumer groups (default: fix-store, trips, live) and
//             serve the HTTP API and dashboard
//   migrate   create/upgrade the database schema and exit
// Settings come from the environment (see --help); flags override the flush settings and groups.
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { argsProblem, emptyOption, emptyOptionProblem } from '../shared/args-error.js';
import { describeConfig, loadConfig, runMain, StartError, UsageError } from '../shared/config.js';
import { failWritesPastFileSizeLimit } from '../shared/file-size-limit.js';
import { dlqTopicFor, kafkaClientConfig, kafkaSpec } from '../shared/kafka.js';
import { createLogger } from '../shared/log.js';
import { makeDirs } from '../shared/make-dirs.js';
import { type IngestProcess, startIngest } from './app.js';
import {
  DEFAULT_SQLITE_PATH,
  defaultFixStoreMembers,
  GROUP_NAMES,
  type GroupName,
  ingestSpec,
} from './config.js';
import { openStore } from './db/open.js';
import { httpOptions, httpSpec } from './http/config.js';
import { metrics } from './metrics.js';

const spec = { ...kafkaSpec, ...ingestSpec, ...httpSpec };

const USAGE = `usage: npm run ingest -- <command> [options]

commands:
  run        consume ${'gps.fixes'} and store it; serve the HTTP API
  migrate    create or upgrade the database schema, then exit

options (run):
  --groups a,b       consumer groups to run: ${GROUP_NAMES.join(', ')} (default: all)
  --flush-rows N     write a batch when N fixes wait
  --flush-ms T       write a batch when its oldest fix waited T ms
  --no-http          do not start the HTTP server
  -h, --help         this text

environment:
${describeConfig(spec)}
`;

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < 1) {
    throw new UsageError(`ingest: ${flag} ${JSON.stringify(raw)} is not a positive integer`);
  }
  return v;
}

function parseGroups(raw: string): GroupName[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = items.filter((g) => !(GROUP_NAMES as readonly string[]).includes(g));
  if (items.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `ingest: --groups ${JSON.stringify(raw)}: unknown group ${unknown.join(', ') || '(none given)'}; choose from ${GROUP_NAMES.join(', ')}`,
    );
  }
  return [...new Set(items)] as GroupName[];
}

runMain(async () => {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (e) {
    throw new UsageError(`ingest: ${argsProblem(e)}\n${USAGE.split('\n')[0]}`);
  }
  const { values, positionals } = args;
  // `--groups ""` would run every group.
  const empty = emptyOption(values);
  if (empty) throw new UsageError(`ingest: ${emptyOptionProblem(empty)}`);
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const command = positionals[0];
  if (command !== 'run' && command !== 'migrate') {
    throw new UsageError(
      `ingest: ${command ? `unknown command ${JSON.stringify(command)}` : 'no command given'}; try --help`,
    );
  }
  // Flags first: a typo on the command line is reported as such, before any variable is checked.
  const flagGroups = values.groups ? parseGroups(values.groups) : undefined;
  const flagRows = positiveInt('--flush-rows', values['flush-rows']);
  const flagMs = positiveInt('--flush-ms', values['flush-ms']);
  const cfg = loadConfig(spec);
  const log = createLogger('ingest');
  // Past a file-size limit the one write fails: the flush fails and is retried, as on a full disk.
  failWritesPastFileSizeLimit(log);
  // The default place's folder is made if missing, so `npm run ingest -- run` works in a fresh
  // checkout; a path someone gave must exist (a typo should not create directories).
  if (!cfg.DATABASE_URL && cfg.INGEST_SQLITE_PATH === DEFAULT_SQLITE_PATH)
    makeDirs(dirname(DEFAULT_SQLITE_PATH));
  const storeOptions = {
    databaseUrl: cfg.DATABASE_URL,
    schema: cfg.INGEST_DB_SCHEMA,
    sqlitePath: cfg.INGEST_SQLITE_PATH,
  };
  // A refusal at start (db/open.ts) is logged for the journal and printed as one line. Its cause
  // goes in by message and code: a stack of the driver's internals says nothing an operator can
  // act on, and a terminal user sees this line too.
  const refused = (e: unknown): never => {
    if (!(e instanceof StartError)) throw e;
    const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
    log.fatal({ cause: cause?.message, code: cause?.code }, e.message);
    throw new StartError(`ingest: ${e.message}`, { cause: e.cause });
  };
  if (command === 'migrate') {
    const store = await openStore(storeOptions).catch(refused);
    await store.close();
    log.info({ backend: store.kind }, 'schema is up to date');
    return;
  }
  const groups = flagGroups ?? (cfg.INGEST_GROUPS as GroupName[]);
  const withHttp = !values['no-http'] && cfg.INGEST_HTTP;
  const brokers = cfg.KAFKA_BROKERS ?? ['127.0.0.1:9092'];
  const h = withHttp ? httpOptions(cfg) : undefined;
  let ingest: IngestProcess | undefined;
  let stopping = false;
  // Only for what no retry can fix (a setting Kafka refuses, a group failing the same way again
  // and again); a broker that is merely away is waited for (ingest/consumer/supervisor.ts).
  const fatal = (group: string, e: Error) => {
    const what = group === 'kafka' ? 'Kafka client' : `consumer group ${group}`;
    log.fatal({ group, err: e }, `${what} stopped for good; exiting so the supervisor restarts us`);
    process.stderr.write(`ingest: ${what} stopped: ${e.message}\n`);
    if (stopping) return;
    stopping = true;
    // Still starting: nothing to finish (whatever was written is idempotent), just go.
    if (!ingest) process.exit(1);
    ingest.stop().finally(() => process.exit(1));
  };
  // Stopped while still starting (waiting for the database): nothing is in hand to finish.
  const stopEarly = (signal: string) => {
    if (ingest) return;
    log.info({ signal }, 'stopping before the start finished');
    process.exit(0);
  };
  process.on('SIGTERM', stopEarly);
  process.on('SIGINT', stopEarly);
  const fixStoreMembers = cfg.INGEST_FIX_STORE_MEMBERS ?? defaultFixStoreMembers(groups);
  ingest = await startIngest({
    kafka: kafkaClientConfig(cfg, 'ingest', brokers),
    topic: cfg.KAFKA_TOPIC,
    dlqTopic: dlqTopicFor(cfg.KAFKA_TOPIC),
    groups,
    groupPrefix: cfg.INGEST_GROUP_PREFIX ?? '',
    store: storeOptions,
    flushRows: flagRows ?? cfg.INGEST_FLUSH_ROWS,
    flushMs: flagMs ?? cfg.INGEST_FLUSH_MS,
    fixStoreMembers,
    metrics,
    log,
    sessionTimeoutMs: cfg.INGEST_SESSION_TIMEOUT_MS,
    onFatal: (group, e) => fatal(group, e),
    http: h && { ...h, tileUrl: h.tileUrl },
  }).catch(refused);
  log.info(
    {
      groups,
      ...(groups.includes('fix-store') ? { fixStoreMembers } : {}),
      backend: ingest.store.kind,
      groupThreads: ingest.threads.length,
      brokers,
      http: ingest.http?.url ?? null,
    },
    'ingest running',
  );
  const running = ingest;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batches in hand');
    running.stop().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.off('SIGTERM', stopEarly);
  process.off('SIGINT', stopEarly);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
});

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      groups: { type: 'string' },
      'flush-rows': { type: 'string' },
      'flush-ms': { type: 'string' },
      'no-http': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
