// Malformed input at every boundary of the running pipeline (issue 6.2f): NMEA noise into the
// agent, bad records on the topic, bad HTTP requests, bad protocol frames to the broker. Each gets
// a clear error (or is skipped and counted) and nothing good is lost: the run ends with the same
// exactly-once check as the fault tests.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import t from 'tap';
import { DLQ_TOPIC } from '../shared/kafka.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { checkExactlyOnce, eventually, withStack } from './helpers/stack.js';

const EPOCHS = 200;

/** The track with junk between its sentences: binary frames, bad checksums, cut-off sentences. */
function noisyTrack(clean: string): string {
  const junk = [
    Buffer.from([0xb5, 0x62, 0x01, 0x07, 0x5c, 0x00, 0xff, 0x00, 0x0d, 0x0a]).toString('latin1'), // UBX-like
    '$GPRMC,120000.00,A,5231.2000,N,01324.3000,E,15.55,45.0,251126,,,A*00\r\n', // bad checksum
    '$GPGGA,120000.00,5231.20\r\n', // cut off
    'garbage without a dollar\r\n',
    `$GPTXT,${'x'.repeat(300)}*11\r\n`, // overlong
  ];
  const lines = clean.split('\r\n').filter((l) => l !== '');
  return lines.map((l, i) => `${junk[i % junk.length]}${l}\r\n`).join('');
}

t.test('malformed input at every boundary: clear errors, nothing good lost', (t) =>
  withStack(t, async (stack) => {
    const clean = join(stack.dir, 'clean.nmea');
    writeNmeaTrack(clean, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 14, 0, 0) });
    const noisy = join(stack.dir, 'noisy.nmea');
    writeFileSync(noisy, noisyTrack(readFileSync(clean, 'utf8')), 'latin1');

    await stack.startBroker();
    await stack.startIngest();
    const id = 'rider-f1';

    // 1. Protocol garbage at the broker, while the pipeline runs.
    const garbage = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: stack.brokerPort }, () => {
        s.write(Buffer.from([0x00, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03]));
      });
      s.on('data', () => undefined);
      s.on('close', () => resolve('closed'));
      s.on('error', () => resolve('closed'));
      setTimeout(() => {
        s.destroy();
        resolve('still open');
      }, 10_000);
    });
    t.equal(garbage, 'closed', 'the broker closes a connection that sends garbage');

    // 2. NMEA noise through the real agent: every good epoch still becomes a fix.
    stack.startAgent(id, { file: noisy, speed: 0 });
    t.equal(await stack.exited(`agent-${id}`), 0, 'the agent replayed the noisy file and finished');
    t.equal(stack.outbox(id).generated, EPOCHS, `all ${EPOCHS} epochs survived the noise`);
    // ... and `agent status` shows what was skipped (each kind of junk stands before 80 lines).
    const status = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'agent/main.ts', 'status', '--db', stack.agentDb(id), '--json'],
      { encoding: 'utf8' },
    );
    const nmea = JSON.parse(status.stdout).gps.nmea;
    t.ok(nmea.badChecksums >= 80, `bad checksums counted (${nmea.badChecksums})`);
    t.ok(nmea.skippedLines >= 80, `junk lines counted (${nmea.skippedLines})`);
    t.ok(nmea.overlongLines >= 80, `overlong lines counted (${nmea.overlongLines})`);
    t.equal(nmea.sentences, EPOCHS * 2, 'every good sentence passed');

    // 3. Bad records on the topic: to the dead-letter topic with a reason, the partition goes on.
    const kafka = kafkaClient({
      clientId: 'e2e-malformed',
      brokers: [stack.brokers],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'gps.fixes',
      messages: [
        { key: id, value: Buffer.from('not a fix record') },
        { key: id, value: Buffer.from([9, 0, 3]) }, // a version from the future
      ],
    });
    await producer.disconnect();
    const dlq: { reason: string }[] = [];
    const consumer = kafka.consumer({
      groupId: 'e2e-dlq-reader',
      sessionTimeout: 6000,
      heartbeatInterval: 500,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: DLQ_TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        dlq.push({ reason: String(message.headers?.['x-dlq-reason'] ?? '') });
      },
    });
    t.ok(await eventually(() => dlq.length >= 2, 30_000), 'both bad records reached the dead-letter topic');
    await consumer.disconnect();
    t.match(dlq.map((d) => d.reason).join('\n'), /newer than this decoder/, 'the reason says why');

    // The same device's next fixes still arrive after the bad records on its partition.
    const more = join(stack.dir, 'more.nmea');
    writeNmeaTrack(more, { epochs: 20, startMs: Date.UTC(2026, 10, 25, 15, 0, 0) });
    stack.startAgent(id, { file: more, speed: 0 });
    t.equal(await stack.exited(`agent-${id}`), 0);
    t.ok(
      await eventually(() => stack.storedSeqs(id).length === EPOCHS + 20, 30_000),
      'fixes after the bad records stored',
    );

    // 4. Bad HTTP requests get a 4xx that says what is wrong; the server keeps serving.
    const base = `http://127.0.0.1:${stack.httpPort}`;
    const auth = { authorization: `Bearer ${stack.token}` };
    const noToken = await fetch(`${base}/api/devices`);
    t.equal(noToken.status, 401, 'no token: 401');
    const badRange = await fetch(`${base}/api/devices/${id}/track?from=yesterday`, { headers: auth });
    t.equal(badRange.status, 400, 'unparseable time: 400');
    t.match(await badRange.text(), /from/, 'the message names the bad parameter');
    const health = await fetch(`${base}/healthz`);
    t.equal(health.status, 200, 'still healthy after all of it');

    checkExactlyOnce(t, stack, [id]);
  }),
);
