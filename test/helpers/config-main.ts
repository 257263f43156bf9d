// A tiny program for test/config.test.ts: loads a spec the way every real main does.
import { env, loadConfig, runMain } from '../../shared/config.js';
import { kafkaClientConfig, kafkaSpec } from '../../shared/kafka.js';

runMain(() => {
  const cfg = loadConfig({
    ...kafkaSpec,
    GPS_BAUD: env.int({ description: 'baud', default: 9600, min: 1200, max: 921600 }),
  });
  kafkaClientConfig(cfg, 'test', cfg.KAFKA_BROKERS ?? ['127.0.0.1:9092']);
  process.stdout.write(`baud=${cfg.GPS_BAUD}\n`);
});
