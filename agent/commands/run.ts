// `agent run`: the service. GPS (serial port, or --replay FILE) -> outbox -> Kafka, until SIGTERM.
import { describeConfig, loadConfig, required, StartError, UsageError } from '../../shared/config.js';
import { failWritesPastFileSizeLimit } from '../../shared/file-size-limit.js';
import { kafkaClientConfig } from '../../shared/kafka.js';
import { createLogger } from '../../shared/log.js';
import { agentSpec, EMBEDDED_BROKER } from '../config.js';
import { ReplaySource } from '../gps/replay-source.js';
import { openSerialSource } from '../gps/serial-source.js';
import type { NmeaSource } from '../gps/source.js';
import { lockOutbox } from '../outbox/lock.js';
import { Outbox } from '../outbox/outbox.js';
import { OutboxOpenError } from '../outbox/schema.js';
import { AgentPipeline } from '../pipeline.js';
import { Sender } from '../sender/sender.js';
import { SystemdNotifier } from '../service/notify.js';
import { startWatchdog } from '../service/watchdog.js';
import { type Command, isReadableFile, parseCommandArgs } from './command.js';

const help = `usage: npm run agent -- run [options]

Reads the GPS, stores every fix in the outbox (SQLite) and sends it to Kafka, until SIGTERM or
Ctrl-C (which stop cleanly: nothing that was not acknowledged leaves the outbox). Under systemd
(Type=notify) it reports READY and feeds the watchdog while the pipeline is healthy.

options (each overrides the variable in brackets):
  --device ID        device id, the Kafka key [DEVICE_ID]
  --gps PATH         serial port of the GPS [GPS_PATH]
  --baud N           serial baud rate [GPS_BAUD]
  --replay FILE      read an NMEA capture instead of the serial port
  --speed N          replay speed: 1 real time, N times faster, 0 as fast as possible (default 1)
  --loop             replay the file again and again (else: exit once all is sent); each
                     pass keeps the capture's own times, so the cloud's live view, which
                     shows the newest by GPS time, stays on the first pass: for a rider
                     that keeps moving, \`agent simulate --devices 1 --replay FILE\` plays it with
                     fresh times
  --db PATH          outbox file [AGENT_DB]
  --brokers LIST     Kafka bootstrap host:port,... [KAFKA_BROKERS]
  --topic NAME       Kafka topic [KAFKA_TOPIC]
  -h, --help         this text

environment (also read from ENV_FILE, e.g. /etc/gps-agent/agent.env):
${describeConfig(agentSpec)}`;

async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('run', args, {
    help: { type: 'boolean', short: 'h' },
    device: { type: 'string' },
    gps: { type: 'string' },
    baud: { type: 'string' },
    replay: { type: 'string' },
    speed: { type: 'string' },
    loop: { type: 'boolean' },
    db: { type: 'string' },
    brokers: { type: 'string' },
    topic: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  // Command-line options are checked by the same spec as the variables they override.
  const overrides: Record<string, string | undefined> = {
    DEVICE_ID: values.device,
    GPS_PATH: values.gps,
    GPS_BAUD: values.baud,
    AGENT_DB: values.db,
    KAFKA_BROKERS: values.brokers,
    KAFKA_TOPIC: values.topic,
  };
  const cfg = loadConfig(agentSpec, { overrides });
  const deviceId = required(cfg.DEVICE_ID, 'DEVICE_ID', 'each device needs its own id (or --device ID)');
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!(speed >= 0) || !Number.isFinite(speed))
    throw new UsageError(`agent run: --speed ${values.speed} is not >= 0`);
  // As `decode` does: a directory would only fail once the pipeline runs, and end it "cleanly".
  if (values.replay !== undefined && !isReadableFile(values.replay))
    throw new UsageError(`agent run: --replay ${values.replay} is not a readable file`);
  const brokers = cfg.KAFKA_BROKERS ?? [EMBEDDED_BROKER];
  const kafka = kafkaClientConfig(cfg, `gps-agent-${deviceId}`, brokers);

  const log = createLogger('agent').child({ deviceId });
  const notifier = new SystemdNotifier({ log });
  let outbox: Outbox;
  try {
    outbox = new Outbox(cfg.AGENT_DB, {
      maxRows: cfg.OUTBOX_MAX_ROWS,
      maxAgeMs: cfg.OUTBOX_MAX_AGE_HOURS * 3600 * 1000,
    });
  } catch (e) {
    // One line naming the setting, not a stack trace (systemd would print one per restart).
    if (e instanceof OutboxOpenError) throw e.naming('run', values.db === undefined ? 'AGENT_DB' : '--db');
    throw e;
  }
  try {
    lockOutbox('run', cfg.AGENT_DB);
  } catch (e) {
    outbox.close();
    throw e;
  }
  const replay = values.replay
    ? new ReplaySource({ file: values.replay, speed, loop: values.loop, log }).start()
    : undefined;
  const source: NmeaSource = replay ?? openSerialSource({ path: cfg.GPS_PATH, baudRate: cfg.GPS_BAUD, log });
  const sender = new Sender({ outbox, kafka, topic: cfg.KAFKA_TOPIC, log, batchSize: cfg.SEND_BATCH });
  const pipeline = new AgentPipeline({
    deviceId,
    source,
    outbox,
    sender,
    log,
    commitMs: cfg.OUTBOX_COMMIT_MS,
  });
  log.info(
    {
      db: cfg.AGENT_DB,
      source: source.name,
      brokers,
      topic: cfg.KAFKA_TOPIC,
      backlog: outbox.pendingCount(),
    },
    'agent starting',
  );

  let stopping: Promise<void> | null = null;
  const stop = (why: string) => {
    stopping ??= (async () => {
      log.info({ why }, 'agent stopping');
      void notifier.stopping();
      stopWatchdog();
      await pipeline.stop();
      log.info({ sent: sender.stats }, 'agent stopped');
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // Past a file-size limit the one write fails, as on a full card: the pipeline keeps the fixes
  // and retries, the watchdog goes hungry.
  failWritesPastFileSizeLimit(log);

  const ended = pipeline.start();
  const stopWatchdog = startWatchdog(notifier, () => pipeline.health(), log);
  await notifier.ready(`reading ${source.name}, sending to ${brokers.join(',')}`);

  await ended;
  if (!stopping) {
    // The replay file ended: store what is still held (a full card: retried every few seconds),
    // send what is left, then stop.
    log.info({ held: pipeline.held }, 'source ended; sending what is left in the outbox');
    while (!stopping && (pipeline.held > 0 || outbox.pendingCount() > 0)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await stop('source ended and outbox empty');
  }
  await stopping;
  // A file that is not NMEA (a wrong path, a binary log) replayed nothing: a failed run, not a
  // clean one, for the shell or script that started it.
  if (replay?.empty)
    throw new StartError(`agent run: no NMEA sentence in ${values.replay}: nothing to replay`);
  // Everything is committed; should a handle (a port, a socket) still hold the event loop, do not
  // let it turn a clean stop into systemd's SIGKILL.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

export const command: Command = {
  name: 'run',
  summary: 'run the agent: GPS -> outbox -> Kafka (the systemd service)',
  help,
  run,
};
