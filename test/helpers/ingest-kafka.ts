// The real embedded broker for ingest tests: a temp data dir, an ephemeral port, kafkajs clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../broker/broker.js';
import { kafkaClient } from '../../shared/kafka-client.js';
import { createLogger } from '../../shared/log.js';

export async function startTestBroker() {
  const dataDir = mkdtempSync(join(tmpdir(), 'ingest-broker-'));
  const broker = await startBroker({ dataDir, port: 0, logger: createLogger('broker', 'warn') });
  const kafka = kafkaClient({
    clientId: 'ingest-test',
    brokers: [broker.address],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  return {
    broker,
    kafka,
    admin,
    producer,
    address: broker.address,
    async createTopic(topic: string, numPartitions: number) {
      await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
    },
    async stop() {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined (tests end by tap's timeout). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  everyMs = 50,
): Promise<T> {
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The committed offset of each partition of the group (-1 = none). */
export async function committed(
  admin: Kafka['admin'] extends () => infer A ? A : never,
  groupId: string,
  topic: string,
) {
  const r = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((r[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}
