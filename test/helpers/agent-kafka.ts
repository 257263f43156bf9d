// Kafka plumbing for the agent tests: the real embedded broker (broker/) on an ephemeral port,
// and a reader that fetches a topic's records with kafkajs (or kcat, for librdkafka).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { logLevel } from 'kafkajs';
import type { Test } from 'tap';
import { type BrokerHandle, startBroker } from '../../broker/broker.js';
import type { Fix } from '../../shared/fix.js';
import { decodeFix } from '../../shared/fixcodec.js';
import { kafkaClient } from '../../shared/kafka-client.js';
import { createLogger } from '../../shared/log.js';

export const quietLog = createLogger('test', 'silent');

export interface TestBroker {
  dataDir: string;
  port: number;
  address: string;
  handle: BrokerHandle | null;
  stop(): Promise<void>;
  /** Starts again on the same port and data (after stop()). */
  restart(): Promise<void>;
}

export async function testBroker(t: Test): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-broker-'));
  const handle = await startBroker({ dataDir, port: 0, logger: quietLog });
  const b: TestBroker = {
    dataDir,
    port: handle.port,
    address: `127.0.0.1:${handle.port}`,
    handle,
    async stop() {
      const h = b.handle;
      b.handle = null;
      await h?.stop();
    },
    async restart() {
      b.handle = await startBroker({ dataDir, port: b.port, logger: quietLog });
    },
  };
  t.teardown(async () => {
    await b.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return b;
}

export interface Received {
  partition: number;
  offset: number;
  key: string;
  fix: Fix;
  size: number;
}

/** Every record of the topic so far, in offset order per partition (kafkajs, no consumer group). */
export async function readTopic(address: string, topic: string): Promise<Received[]> {
  const kafka = kafkaClient({
    brokers: [address],
    clientId: 'agent-test-reader',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const got: Received[] = [];
  if (total === 0) return got;
  const consumer = kafka.consumer({ groupId: `reader-${process.pid}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          got.push({
            partition,
            offset: Number(message.offset),
            key: message.key!.toString(),
            fix: decodeFix(message.value!),
            size: message.value!.length,
          });
          if (got.length >= total) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

const run = promisify(execFile);

/** Keys of every record, read by librdkafka (kcat). */
export async function kcatKeys(address: string, topic: string): Promise<string[]> {
  const { stdout } = await run(
    'kcat',
    ['-C', '-b', address, '-t', topic, '-e', '-q', '-o', 'beginning', '-f', '%k\n'],
    {
      timeout: 30_000,
    },
  );
  return stdout.split('\n').filter((s) => s !== '');
}

export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
