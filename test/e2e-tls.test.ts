// The agent's production Kafka settings over real TLS: mutual TLS with a private CA, from the
// same KAFKA_TLS_* variables the systemd env file sets. The embedded broker speaks plaintext only
// (a production cluster terminates TLS itself), so socat terminates TLS in front of it, and the
// broker advertises the TLS port, so every connection kafkajs makes goes through TLS.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import t from 'tap';
import { loadConfig } from '../shared/config.js';
import { kafkaClientConfig, kafkaSpec } from '../shared/kafka.js';
import { kafkaClient } from '../shared/kafka-client.js';
import { childBroker, tempDir } from './helpers/broker-harness.js';
import { writeNmeaTrack } from './helpers/nmea-track.js';
import { makePki, tlsProxy } from './helpers/pki.js';
import { freePort, sleep } from './helpers/stack.js';

const EPOCHS = 30;

function runAgent(deviceId: string, track: string, db: string, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'agent/main.ts',
      'run',
      '--replay',
      track,
      '--speed',
      '0',
      '--device',
      deviceId,
      '--db',
      db,
    ],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { child, exited, output: () => out };
}

t.test('agent produces through mutual TLS; without its client certificate it keeps everything', async (t) => {
  const dir = tempDir(t, 'e2e-tls-');
  const pki = makePki(dir, { client: true });
  const tlsPort = await freePort();
  const broker = await childBroker(t, join(dir, 'broker'), ['--advertised-port', String(tlsPort)]);
  // The proxy demands a client certificate signed by the CA (mutual TLS).
  await tlsProxy(t, { port: tlsPort, to: broker.port, pki, verifyClient: true });

  const track = join(dir, 'track.nmea');
  writeNmeaTrack(track, { epochs: EPOCHS, startMs: Date.UTC(2026, 10, 25, 16, 0, 0) });
  const tlsEnv = {
    KAFKA_BROKERS: `127.0.0.1:${tlsPort}`,
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: pki.ca,
    KAFKA_TLS_CERT_FILE: pki.clientCert!,
    KAFKA_TLS_KEY_FILE: pki.clientKey!,
  };

  const good = runAgent('tls-rider', track, join(dir, 'good.db'), tlsEnv);
  t.equal(
    await good.exited,
    0,
    `the agent sent everything over TLS and finished\n${good.output().slice(-1500)}`,
  );

  // Without a client certificate the handshake is refused: the agent keeps retrying, nothing
  // leaves its outbox, nothing reaches the topic.
  const { KAFKA_TLS_CERT_FILE: _c, KAFKA_TLS_KEY_FILE: _k, ...noClientCert } = tlsEnv;
  const refused = runAgent('no-cert-rider', track, join(dir, 'refused.db'), noClientCert);
  await sleep(8000);
  t.equal(refused.child.exitCode, null, 'the agent without a certificate is still running (retrying)');
  refused.child.kill('SIGTERM');
  t.equal(await refused.exited, 0, 'and stops cleanly');
  // `status` exits 1 for an agent that is not running; its JSON is what matters here.
  const status = JSON.parse(
    spawnSync(
      process.execPath,
      ['--import', 'tsx', 'agent/main.ts', 'status', '--json', '--db', join(dir, 'refused.db')],
      {
        encoding: 'utf8',
      },
    ).stdout,
  );
  t.equal(status.backlog?.rows, EPOCHS, 'every fix is still in its outbox');

  // What reached the topic, read through TLS too (the broker advertises only the TLS port), with
  // the client settings the ingest builds from the same variables.
  const settings = loadConfig(kafkaSpec, { env: tlsEnv });
  const kafka = kafkaClient({
    ...kafkaClientConfig(settings, 'tls-check', settings.KAFKA_BROKERS!),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('gps.fixes');
  await admin.disconnect();
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  t.equal(total, EPOCHS, `exactly the ${EPOCHS} fixes of the TLS agent are on the topic`);
});
