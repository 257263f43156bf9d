// Run by test/kafka-client.test.ts, from sources and bundled the agent's way: connects a kafkajs
// client made by shared/kafka-client.ts to the broker in argv[2], lets it sit idle, and prints
// how many short timers (the kafkajs request queue's idle loop: a 1 ms timer re-armed forever)
// the process armed meanwhile.
import { logLevel } from 'kafkajs';
import { kafkaClient, requestQueuePatched } from '../../shared/kafka-client.js';

let shortTimers = 0;
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: () => void, ms?: number, ...args: unknown[]) => {
  if ((ms ?? 0) <= 10) shortTimers++;
  return realSetTimeout(fn, ms, ...args);
}) as typeof setTimeout;

const admin = kafkaClient({
  clientId: 'idle-probe',
  brokers: [process.argv[2]!],
  logLevel: logLevel.NOTHING,
}).admin();
await admin.connect();
await admin.listTopics();
await new Promise((r) => realSetTimeout(r, 200));
shortTimers = 0;
await new Promise((r) => realSetTimeout(r, 500));
const seen = shortTimers;
await admin.disconnect();
process.stdout.write(`${JSON.stringify({ patched: requestQueuePatched, shortTimers: seen })}\n`);
