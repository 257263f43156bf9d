// A kafkajs group consumer in its own process, for tests that SIGKILL it (a consumer dying without
// leaving its group). Prints one JSON line per event on stdout:
//   {"joined":{"memberId":..,"partitions":[..]}}   after each rebalance
//   {"p":partition,"o":offset,"v":value}            per message, before any commit of it
// It commits each message's offset+1 right after printing it, for the first COMMIT_FIRST messages
// only; later messages stay uncommitted, so a kill leaves work that must be redelivered.
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../shared/kafka-client.js';

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} must be set`);
  return v;
};
const topic = env('TOPIC');
const commitFirst = Number(process.env['COMMIT_FIRST'] ?? '1000000');
const kafka = kafkaClient({
  clientId: env('CLIENT_ID'),
  brokers: [env('BROKER')],
  logLevel: logLevel.NOTHING,
});
const consumer = kafka.consumer({
  groupId: env('GROUP'),
  sessionTimeout: Number(env('SESSION_MS')),
  heartbeatInterval: 500,
  maxWaitTimeInMs: 200,
});
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

consumer.on(consumer.events.GROUP_JOIN, (e) => {
  out({ joined: { memberId: e.payload.memberId, partitions: e.payload.memberAssignment[topic] ?? [] } });
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let seen = 0;
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ partition, message }) => {
    out({ p: partition, o: Number(message.offset), v: message.value?.toString() });
    seen++;
    if (seen <= commitFirst) {
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    }
  },
});
