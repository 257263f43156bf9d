// `npm start`: the whole pipeline on one machine.
//
// With KAFKA_BROKERS unset it starts the embedded broker on 127.0.0.1:9092; it creates the topics
// (gps.fixes with 12 partitions, the dead-letter topic), starts the ingest with every group (on
// SQLite unless DATABASE_URL is set), a simulated fleet and one replayed real receiver log, and
// prints the dashboard URL with its token. Everything lives under data/, so a second `npm start`
// resumes where the first stopped. Ctrl-C stops agents, then ingest, then broker.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { logLevel } from 'kafkajs';
import { MAX_SIM_DEVICES } from '../agent/sim/fleet.js';
import { INGEST_NODE_FLAGS } from '../ingest/config.js';
import { httpSpec } from '../ingest/http/config.js';
import { argsProblem, emptyOption, emptyOptionProblem } from '../shared/args-error.js';
import { ALSO_READ_HELP, loadConfig, rawSetting, runMain, StartError, UsageError } from '../shared/config.js';
import { dlqTopicFor, kafkaClientConfig, kafkaSpec } from '../shared/kafka.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { makeDirs } from '../shared/make-dirs.js';
import { numberOption } from '../shared/number-option.js';
import { releasePidLock, takePidLock } from '../shared/pid-lock.js';
import { Supervisor, waitForHttp } from './supervisor.js';

const USAGE = `usage: npm start [-- options]

Runs the whole pipeline: the embedded broker (when KAFKA_BROKERS is unset), the ingest with all
consumer groups (SQLite when DATABASE_URL is unset), a simulated fleet and a replayed receiver log.

options:
  --data-dir DIR     where everything is kept (default: data)
  --devices N        simulated riders (default 50; 0 = none)
  --partitions N     partitions of gps.fixes when it is created (default 12)
  --http-port PORT   dashboard and API port (default 8080)
  --broker-port PORT embedded broker port (default 9092)
  --no-replay        do not replay the real receiver log
  -h, --help         this text

environment: KAFKA_BROKERS and the other KAFKA_* variables, DATABASE_URL, INGEST_TOKEN (else a
token is generated once and kept in DATA_DIR/ingest.token), and for every program it starts:
${ALSO_READ_HELP}`;

const REPLAY_LOG = 'test/fixtures/nmea/sirfstarv-nmea.log';

function intOption(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  return numberOption('start', name, raw, def, { min, max, integer: true });
}

/** The dashboard token: INGEST_TOKEN if set, else one generated on first start and kept (0600). */
function dashboardToken(dataDir: string, fromEnv: string | undefined): string {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'ingest.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function createTopics(brokers: string[], partitions: number): Promise<void> {
  const settings = loadConfig(kafkaSpec);
  const kafka = kafkaClient({
    ...kafkaClientConfig(settings, 'fleet-start', brokers),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [
      { topic: settings.KAFKA_TOPIC, numPartitions: partitions },
      { topic: dlqTopicFor(settings.KAFKA_TOPIC), numPartitions: 1 },
    ].filter((t) => !existing.has(t.topic));
    if (topics.length > 0) await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const { values } = parseStartArgs(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const dataDir = resolve(str(values['data-dir']) ?? 'data');
  const devices = intOption('devices', str(values.devices), 50, 0, MAX_SIM_DEVICES);
  const partitions = intOption('partitions', str(values.partitions), 12, 1, 10_000);
  const httpPort = intOption('http-port', str(values['http-port']), 8080, 1, 65535);
  const brokerPort = intOption('broker-port', str(values['broker-port']), 9092, 1, 65535);
  // The ingest's own rules for what start passes on, so a bad value is refused here, in the
  // terminal, in the words the ingest would use (not only in its log after it exited).
  const cfg = loadConfig({ ...kafkaSpec, ...httpSpec });
  makeDirs(dataDir);
  // Before anything starts: a second `npm start` on the same data would otherwise find the first
  // one's broker and HTTP port answering and report success, with a second simulator writing the
  // same outboxes.
  const lock = join(dataDir, 'start.lock');
  const held = takePidLock(lock);
  if (held) {
    throw new StartError(
      `npm start: ${dataDir} is in use by another npm start (pid ${held.heldBy}); stop it, or give another --data-dir`,
    );
  }
  process.on('exit', () => releasePidLock(lock));
  const token = dashboardToken(dataDir, cfg.INGEST_TOKEN);
  const say = (line: string) => process.stdout.write(`[start] ${line}\n`);

  let failed = false;
  const sup = new Supervisor(join(dataDir, 'logs'), say, (name, code, last) => {
    // A child that dies on its own is a fault worth stopping for: the demo would quietly lie.
    say(
      `${name} exited unexpectedly (code ${code})${last ? `: ${last}` : ''}; stopping everything, see its log`,
    );
    failed = true;
    void shutdown();
  });
  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= sup.stopAll().then(() => process.exit(failed ? 1 : 0));
    return shuttingDown;
  };
  // Ctrl-C while still starting stops the children a wait is for; that wait failing is then no fault.
  let askedToStop = false;
  const onSignal = () => {
    askedToStop = true;
    void shutdown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await startAll(
      sup,
      {
        dataDir,
        devices,
        partitions,
        httpPort,
        httpHost: reachableHost(cfg.INGEST_HTTP_HOST),
        brokerPort,
        token,
        replay: !values['no-replay'],
      },
      say,
    );
  } catch (e) {
    if (!askedToStop) {
      say(`could not start: ${(e as Error).message}`);
      failed = true;
    }
    await shutdown();
  }
}

interface StartPlan {
  dataDir: string;
  devices: number;
  partitions: number;
  httpPort: number;
  /** Where this script reaches the ingest's HTTP server (INGEST_HTTP_HOST, loopback for any). */
  httpHost: string;
  brokerPort: number;
  token: string;
  replay: boolean;
}

async function startAll(sup: Supervisor, p: StartPlan, say: (line: string) => void): Promise<void> {
  const { dataDir, devices, partitions, httpPort, brokerPort, token } = p;
  const base = `http://${p.httpHost}:${httpPort}`;
  let brokers = loadConfig(kafkaSpec).KAFKA_BROKERS;
  if (!brokers) {
    brokers = [`127.0.0.1:${brokerPort}`];
    const broker = sup.start({
      name: 'broker',
      entry: 'broker/main.ts',
      args: ['--data-dir', join(dataDir, 'broker'), '--port', String(brokerPort)],
    });
    // Its own word, not an open port: another program on that port would answer too, and the
    // topics would be made there while this broker fails with EADDRINUSE.
    await sup.waitForOutput(broker, /"msg":"broker listening"/, 30_000, 'broker "listening" line');
  }
  await createTopics(brokers, partitions);
  say(`topics ready on ${brokers.join(',')}`);

  const kafkaEnv = { KAFKA_BROKERS: brokers.join(',') };
  const ingest = sup.start({
    name: 'ingest',
    entry: 'ingest/main.ts',
    nodeFlags: INGEST_NODE_FLAGS,
    args: ['run'],
    env: {
      ...kafkaEnv,
      INGEST_TOKEN: token,
      INGEST_HTTP_PORT: String(httpPort),
      // The data dir's database unless the operator named one (environment or ENV_FILE, which
      // the ingest reads itself; passing ours would override the file's).
      ...(rawSetting('INGEST_SQLITE_PATH') ? {} : { INGEST_SQLITE_PATH: join(dataDir, 'ingest.db') }),
    },
  });
  // Its own word first, as for the broker: another server already on the HTTP port answers
  // /healthz with a 200 too, and start printed a URL with our token for that server while this
  // ingest was failing with EADDRINUSE. Once it listens, the port is its own; the wait for
  // /healthz then is for its database and groups, and ends if the ingest exits.
  await sup.waitForOutput(
    ingest,
    /"msg":"HTTP server listening"/,
    60_000,
    'ingest "HTTP server listening" line',
  );
  const ingestGone = new AbortController();
  ingest.once('exit', () => ingestGone.abort(new Error('the ingest exited')));
  await waitForHttp(`${base}/healthz`, 60_000, ingestGone.signal);

  if (devices > 0) {
    sup.start({
      name: 'fleet',
      entry: 'agent/main.ts',
      args: ['simulate', '--devices', String(devices), '--db', join(dataDir, 'fleet-outbox.db')],
      env: kafkaEnv,
    });
  }
  if (p.replay) {
    sup.start({
      name: 'replay',
      entry: 'agent/main.ts',
      // A real receiver's capture, decoded by the agent's NMEA code and played in a loop with
      // fresh times (a plain `agent run --replay --loop` would repeat the capture's old times).
      args: [
        'simulate',
        '--devices',
        '1',
        '--replay',
        REPLAY_LOG,
        '--in-city',
        '--prefix',
        'replay-',
        '--db',
        join(dataDir, 'replay-outbox.db'),
      ],
      env: kafkaEnv,
    });
  }
  say(`dashboard: ${base}/?token=${token}`);
  say(`API:       curl -H 'Authorization: Bearer ${token}' ${base}/api/devices`);
  say('Ctrl-C stops everything; npm start again resumes from the data on disk.');
}

const START_OPTIONS = {
  'data-dir': { type: 'string' },
  devices: { type: 'string' },
  partitions: { type: 'string' },
  'http-port': { type: 'string' },
  'broker-port': { type: 'string' },
  'no-replay': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The options, strictly: a misspelt one (--devics 3) must not quietly run the defaults. */
function parseStartArgs(args: string[]) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof START_OPTIONS; strict: true }>>;
  try {
    parsed = parseArgs({ args, options: START_OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`start: ${argsProblem(e)} (see npm start -- --help)`);
  }
  // `--data-dir ""` would use ./data.
  const empty = emptyOption(parsed.values);
  if (empty) throw new UsageError(`start: ${emptyOptionProblem(empty)}`);
  return parsed;
}

/** The address to reach a server listening on `host`: loopback for the wildcard addresses. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

runMain(main);
