// `agent simulate --devices N`: a fleet of virtual devices through the agent's own pipeline
// (outbox -> sender -> Kafka), riding a street grid or replaying NMEA captures.
import { describeConfig, loadConfig, UsageError } from '../../shared/config.js';
import { kafkaClientConfig, kafkaSpec } from '../../shared/kafka.js';
import { createLogger } from '../../shared/log.js';
import { numberOption } from '../../shared/number-option.js';
import { DEVICE_ID_PATTERN, DEVICE_ID_WORDS, EMBEDDED_BROKER } from '../config.js';
import { lockOutbox } from '../outbox/lock.js';
import { OutboxOpenError } from '../outbox/schema.js';
import { MAX_SIM_DEVICES, simulatedId, startFleet } from '../sim/fleet.js';
import { DEFAULT_CITY } from '../sim/rider.js';
import { type Command, isReadableFile, parseCommandArgs } from './command.js';

const help = `usage: npm run agent -- simulate --devices N [options]

Runs N simulated devices in this process through the same outbox and sender as a real agent,
for load tests and the demo. Riders move on a street grid (${DEFAULT_CITY.size}x${DEFAULT_CITY.size} streets ${DEFAULT_CITY.blockM} m apart
from ${DEFAULT_CITY.lat0},${DEFAULT_CITY.lon0}) at 3-12 m/s, wait at lights and stop for deliveries; or, with --replay,
play NMEA captures in a loop (shifted a little per device). Device ids: sim-0001, sim-0002, ...
All devices share one outbox file (each with its own seq); one tick of the fleet is one commit.

options:
  --devices N        number of devices, 1 to ${MAX_SIM_DEVICES} (required)
  --speed N          simulated seconds per real second, 0.01 to 1000 (default 1: real time)
  --duration S       stop after S simulated seconds (at most 366 days), once all is sent
                     (default: until Ctrl-C)
  --replay FILE      replay this capture instead of riding the grid (repeat for several)
  --in-city          move replayed captures onto the street grid's city (shape and motion kept)
  --seed N           random seed, 1 to 4294967295 (default 1): the same seed rides the same way
  --prefix TEXT      device id prefix (default sim-)
  --db PATH          outbox file (default sim-outbox.db)
  --brokers LIST     Kafka bootstrap host:port,... [KAFKA_BROKERS, default ${EMBEDDED_BROKER}]
  --topic NAME       Kafka topic [KAFKA_TOPIC]
  -h, --help         this text

Kafka variables (TLS, SASL) as for \`agent run\`:
${describeConfig(kafkaSpec)}`;

/**
 * What the options may be. --devices as npm start allows it (each rider is held in memory: a
 * billion of them grew the process without a word); --speed up to 1000 simulated seconds a real
 * second (16 minutes of riding a second; past that the ticks only queue); --seed as the
 * generator takes it (32 bits).
 */
const DEVICES = { min: 1, max: MAX_SIM_DEVICES, integer: true };
const SPEED = { min: 0.01, max: 1000 };
const DURATION = { min: 1, max: 366 * 86_400, integer: true };
const SEED = { min: 1, max: 2 ** 32 - 1, integer: true };

async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('simulate', args, {
    help: { type: 'boolean', short: 'h' },
    devices: { type: 'string' },
    speed: { type: 'string' },
    duration: { type: 'string' },
    replay: { type: 'string', multiple: true },
    'in-city': { type: 'boolean' },
    seed: { type: 'string' },
    prefix: { type: 'string' },
    db: { type: 'string' },
    brokers: { type: 'string' },
    topic: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (values.devices === undefined)
    throw new UsageError('agent simulate: --devices N is required (see --help)');
  const devices = numberOption('agent simulate', 'devices', values.devices, 1, DEVICES);
  const speed = numberOption('agent simulate', 'speed', values.speed, 1, SPEED);
  const durationS =
    values.duration === undefined
      ? undefined
      : numberOption('agent simulate', 'duration', values.duration, 1, DURATION);
  const seed = numberOption('agent simulate', 'seed', values.seed, 1, SEED);
  // The ids are the prefix and a number; they must be ids a real agent could have (DEVICE_ID):
  // "bad id/" made ids with a space and a slash that the API and the dashboard then showed.
  const lastId = simulatedId(values.prefix, devices);
  if (!DEVICE_ID_PATTERN.test(lastId))
    throw new UsageError(
      `agent simulate: --prefix ${JSON.stringify(values.prefix)} makes device ids such as ${JSON.stringify(lastId)}, not ${DEVICE_ID_WORDS}`,
    );
  for (const file of values.replay ?? [])
    if (!isReadableFile(file))
      throw new UsageError(`agent simulate: --replay ${file} is not a readable file`);
  const cfg = loadConfig(kafkaSpec, {
    overrides: { KAFKA_BROKERS: values.brokers, KAFKA_TOPIC: values.topic },
  });
  const brokers = cfg.KAFKA_BROKERS ?? [EMBEDDED_BROKER];
  const log = createLogger('simulate');
  const db = values.db ?? 'sim-outbox.db';
  const fleet = await startFleet({
    devices,
    db,
    kafka: kafkaClientConfig(cfg, 'gps-sim', brokers),
    topic: cfg.KAFKA_TOPIC,
    log,
    speed,
    durationS,
    replay: values.replay,
    replayInCity: values['in-city'],
    seed,
    idPrefix: values.prefix,
    // As `agent run` does: a simulator beside an agent (or another simulator) on one outbox
    // would send that process's rows too.
    opened: () => lockOutbox('simulate', db),
  }).catch((e: unknown) => {
    throw e instanceof OutboxOpenError ? e.naming('simulate', '--db') : e;
  });
  const report = setInterval(() => log.info(fleet.stats(), 'simulated fleet'), 10_000);
  report.unref();
  process.once('SIGTERM', () => void fleet.stop());
  process.once('SIGINT', () => void fleet.stop());
  await fleet.done;
  clearInterval(report);
  return 0;
}

export const command: Command = {
  name: 'simulate',
  summary: 'run N simulated devices through outbox and sender (load tests, demo)',
  help,
  run,
};
