// Shared by the broker-groups end-to-end tests: the real broker on an ephemeral port in a temp dir,
// kafkajs clients, bounded waits, and a record of what each consumer received.
import { type Admin, AssignerProtocol, type Consumer, type Kafka, logLevel } from 'kafkajs';
import type { Test } from 'tap';
import { type BrokerHandle, startBroker } from '../../broker/broker.js';
import { kafkaClient } from '../../shared/kafka-client.js';
import { createLogger } from '../../shared/log.js';
import { tempDir } from './broker-harness.js';

export const SESSION_MS = 6000;
export const HEARTBEAT_MS = 500;
/** Short, so tests do not sit out Kafka's 3 s; still long enough to gather simultaneous joiners. */
export const INITIAL_DELAY_MS = 300;

export async function startGroupBroker(dataDir: string, port = 0) {
  const broker: BrokerHandle = await startBroker({
    dataDir,
    port,
    logger: createLogger('broker', process.env['BROKER_LOG'] ?? 'warn'),
    groups: { initialRebalanceDelayMs: INITIAL_DELAY_MS },
  });
  return broker;
}

/** A group broker on a fresh temp data dir; at teardown it stops and the dir is removed. */
export async function groupBroker(t: Test): Promise<{ dataDir: string; broker: BrokerHandle }> {
  const dataDir = tempDir(t, 'broker-groups-');
  const broker = await startGroupBroker(dataDir);
  t.teardown(() => broker.stop()); // stop() is idempotent: a test may stop it itself
  return { dataDir, broker };
}

/**
 * groupBroker plus a kafkajs client and a connected admin. Teardown runs in reverse: whatever the
 * test registers after this, then the admin disconnects, the broker stops, the dir is removed.
 */
export async function groupBrokerWithAdmin(t: Test) {
  const { dataDir, broker } = await groupBroker(t);
  const kafka = client(broker.address);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  return { dataDir, broker, kafka, admin };
}

export function client(address: string, clientId = 'groups-test'): Kafka {
  return kafkaClient({ clientId, brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

/** Polls until check returns a value (not undefined); fails with `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Received {
  consumer: string;
  partition: number;
  offset: number;
  value: string;
}

/** Starts a consumer that records every message it gets into `into`. */
export async function startConsumer(
  kafka: Kafka,
  opts: { groupId: string; topic: string; name: string; into: Received[]; autoCommit?: boolean },
): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: SESSION_MS,
    rebalanceTimeout: 10_000,
    heartbeatInterval: HEARTBEAT_MS,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: opts.autoCommit ?? true,
    eachMessage: async ({ partition, message }) => {
      opts.into.push({
        consumer: opts.name,
        partition,
        offset: Number(message.offset),
        value: message.value?.toString() ?? '',
      });
    },
  });
  return consumer;
}

export interface StableGroup {
  protocol: string;
  members: { memberId: string; clientId: string; partitions: number[] }[];
}

/** Waits for the group to be Stable with `count` members; returns each member's partitions of topic. */
export async function stableWith(
  admin: Admin,
  groupId: string,
  topic: string,
  count: number,
): Promise<StableGroup> {
  return waitFor(`group ${groupId} stable with ${count} members`, async () => {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    if (g?.state !== 'Stable' || g.members.length !== count) return undefined;
    return {
      protocol: g.protocol,
      members: g.members.map((m) => {
        const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        return {
          memberId: m.memberId,
          clientId: m.clientId,
          partitions: [...(a?.assignment[topic] ?? [])].sort(),
        };
      }),
    };
  });
}

export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const r = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((r[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

export async function produce(kafka: Kafka, topic: string, values: string[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((v) => ({ key: v, value: v })) });
  } finally {
    await producer.disconnect();
  }
}
