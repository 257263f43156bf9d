// The broker under test: in-process (startBroker) for protocol tests, or as a child process
// (`npm run broker`) where a test needs kill -9 or the broker's own RSS.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kafka, type KafkaMessage, logLevel, type SASLOptions } from 'kafkajs';
import type { Test } from 'tap';
import { type BrokerHandle, type StartOptions, startBroker } from '../../broker/broker.js';
import { kafkaClient } from '../../shared/kafka-client.js';
import { createLogger } from '../../shared/log.js';

export const silent = createLogger('broker-test', process.env['BROKER_TEST_LOG'] ?? 'silent');

export function tempDir(t: Test, prefix = 'broker-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Start a broker in this process; stopped at teardown (stop() twice is harmless). */
export async function inProcessBroker(
  t: Test,
  opts: Partial<StartOptions> & { dataDir?: string } = {},
): Promise<BrokerHandle & { dataDir: string }> {
  const dataDir = opts.dataDir ?? tempDir(t);
  const h = await startBroker({ port: 0, logger: silent, ...opts, dataDir });
  t.teardown(() => h.stop());
  return Object.assign(h, { dataDir });
}

/** A kafkajs client for the broker under test; `sasl` logs in (the broker's `sasl` option). */
export function kafka(address: string, clientId = 'broker-test', sasl?: SASLOptions): Kafka {
  return kafkaClient({
    clientId,
    brokers: [address],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
    ...(sasl ? { sasl } : {}),
  });
}

/**
 * Reads `topic` from the beginning with a kafkajs consumer in `groupId`, giving each message to
 * `onMessage` until it returns true. The consumer disconnects at teardown.
 */
export async function consumeFromStart(
  t: Test,
  address: string,
  opts: { topic: string; groupId: string },
  onMessage: (message: KafkaMessage) => boolean,
): Promise<void> {
  const consumer = kafka(address).consumer({ groupId: opts.groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          if (onMessage(message)) resolve();
        },
      })
      .catch(reject);
  });
}

export interface ChildBroker {
  proc: ChildProcess;
  port: number;
  address: string;
  pid: number;
  /** stderr + stdout so far (structured log lines). */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

/**
 * Run `broker/main.ts` as a child process and wait until it listens. `logLevel` (default: the
 * LOG_LEVEL environment variable, else info) must be info or lower: the port is read from the
 * "broker listening" line. Tests, bench/broker.ts and anything else that needs the broker in its
 * own process start it here.
 */
export async function childBroker(
  t: Test | null,
  dataDir: string,
  args: string[] = [],
  opts: { fileSizeLimitKb?: number; logLevel?: string } = {},
): Promise<ChildBroker> {
  const nodeArgs = [
    '--import',
    'tsx',
    join(import.meta.dirname, '../../broker/main.ts'),
    '--data-dir',
    dataDir,
    '--port',
    '0',
    ...args,
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: opts.logLevel ?? process.env['LOG_LEVEL'] ?? 'info',
  };
  // A real write failure without root: RLIMIT_FSIZE makes writes past the limit fail with EFBIG
  // (broker/main.ts handles SIGXFSZ, so the write errors instead of killing the process).
  // The limit covers every file the process writes: tsx's compile cache too, and a cache entry
  // for a big module, written before main.ts installs its handler, would kill the broker at
  // start (SIGXFSZ) the first time after a source change. So no cache under a limit.
  if (opts.fileSizeLimitKb !== undefined) env['TSX_DISABLE_CACHE'] = '1';
  const proc =
    opts.fileSizeLimitKb === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(
          'bash',
          ['-c', `ulimit -f ${opts.fileSizeLimitKb}; exec "$0" "$@"`, process.execPath, ...nodeArgs],
          { stdio: ['ignore', 'pipe', 'pipe'], env },
        );
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)[^\n]*broker listening/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`broker exited with ${code} before listening:\n${out}`)));
  });
  const child: ChildBroker = {
    proc,
    port,
    address: `127.0.0.1:${port}`,
    pid: proc.pid!,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
  if (t) t.teardown(() => child.kill9());
  else {
    // Without a test to tear it down (the benches), a run that throws skips its stop(); the broker
    // must still not outlive the process that started it (a bench without kcat left four running).
    const orphaned = () => proc.kill('SIGKILL');
    process.once('exit', orphaned);
    proc.once('exit', () => process.off('exit', orphaned));
  }
  return child;
}
