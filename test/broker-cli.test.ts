// `npm run broker`: --help, one-line errors for bad options, a second broker on the same data
// dir refused, and SIGTERM stops cleanly (exit 0, next start skips recovery).
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseArgs } from '../broker/cli.js';
import { childBroker, kafka, tempDir } from './helpers/broker-harness.js';

const run = promisify(execFile);
const main = join(import.meta.dirname, '../broker/main.ts');

t.test('--help and bad options', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', main, '--help']);
  t.match(stdout, /--data-dir DIR/, 'usage printed');
  const err = await run(process.execPath, [
    '--import',
    'tsx',
    main,
    '--data-dir',
    '/tmp/x',
    '--port',
    'ninety',
  ]).catch((e: { code: number; stderr: string }) => e);
  t.equal((err as { code: number }).code, 2, 'exit code 2');
  t.match(
    (err as { stderr: string }).stderr,
    /--port needs an integer >= 0, got 'ninety'/,
    'says what and why',
  );
  t.throws(() => parseArgs(['--port', '1']), /--data-dir is required/);
  t.throws(() => parseArgs(['--data-dir', 'd', '--segment-bytes', String(4 * 1024 ** 3)]), /at most 1 GiB/);
  t.throws(() => parseArgs(['--data-dir', 'd', '--frobnicate']), /unknown option '--frobnicate'/);
  t.throws(
    () => parseArgs(['--data-dir', 'd', '--advertised-port', '99999']),
    /--advertised-port must be at most 65535/,
  );
  t.throws(
    () => parseArgs(['--data-dir', 'd', '--retention-ms', '9223372036854775807']),
    /--retention-ms needs an integer >= -1, got '9223372036854775807': at most 9007199254740991 \(-1 means no limit\)/,
    "Kafka's Long.MAX_VALUE for forever: the message says the flag's way",
  );
  t.same(parseArgs(['--data-dir=d', '--retention-ms', '-1', '--auto-create-topics', 'false']), {
    dataDir: 'd',
    autoCreateTopics: false,
    topicDefaults: { retentionMs: -1 },
  });
});

t.test('a data directory that cannot be made: one line at once, no hang, no stack', async (t) => {
  const file = join(tempDir(t), 'a-file');
  writeFileSync(file, 'not a directory');
  // /proc/x: Node's recursive mkdirSync never returns there (it retries ENOENT forever).
  for (const [dir, why] of [
    ['/proc/x/data', /ENOENT: no such file or directory, mkdir '\/proc\/x'/],
    [join(file, 'data'), /ENOTDIR: not a directory/],
  ] as const) {
    const err = await run(process.execPath, ['--import', 'tsx', main, '--data-dir', dir, '--port', '0'], {
      timeout: 30_000,
    }).catch((e: { code: number; stderr: string; killed: boolean }) => e);
    const e = err as { code: number; stderr: string; killed: boolean };
    t.notOk(e.killed, `${dir}: it did not hang`);
    t.equal(e.code, 1, `${dir}: exit 1`);
    t.match(e.stderr, /^broker: cannot start: /m, `${dir}: one line on stderr`);
    t.match(e.stderr, why, `${dir}: says why`);
    t.notMatch(e.stderr, /\n\s+at /, `${dir}: no stack`);
  }
});

t.test('SIGTERM stops cleanly; a second broker on the same dir is refused', async (t) => {
  const dataDir = tempDir(t);
  const b = await childBroker(t, dataDir);
  const second = await childBroker(null, dataDir).catch((e: Error) => e);
  t.match(String(second), /in use by broker process/, 'second broker refused');
  const producer = kafka(b.address).producer();
  await producer.connect();
  await producer.send({ topic: 'cli', acks: -1, messages: [{ value: 'before stop' }] });
  await producer.disconnect();
  t.equal(await b.stop(), 0, 'exit code 0 on SIGTERM');
  t.match(b.output(), /broker stopped cleanly/, 'logged');
  t.ok(existsSync(join(dataDir, '.clean-shutdown')), 'clean shutdown marked');
  const again = await childBroker(t, dataDir);
  t.match(again.output(), /"clean":true/, 'next start knows the stop was clean');
  const admin = kafka(again.address).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('cli');
  await admin.disconnect();
  t.equal(
    offsets.reduce((n, o) => n + Number(o.high), 0),
    1,
    'the record is still there',
  );
  await again.stop();
});

t.test('npm run broker: SIGTERM to npm reaches the broker (the scripts exec node)', async (t) => {
  // Without exec, npm signalled its `sh -c`, which died and left the broker running under pid 1,
  // port and data directory held; the same for npm start's whole pipeline.
  const dir = tempDir(t);
  const npm = spawn('npm', ['run', '-s', 'broker', '--', '--data-dir', dir, '--port', '0'], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => npm.kill('SIGKILL'));
  let out = '';
  const listening = new Promise<void>((resolve) =>
    npm.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('broker listening')) resolve();
    }),
  );
  await listening;
  const pid = Number(/"pid":(\d+)/.exec(out)![1]);
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL'); // an orphan, if the test fails
    } catch {}
  });
  npm.kill('SIGTERM');
  await new Promise((resolve) => npm.once('exit', resolve));
  const gone = async () => {
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  t.ok(await gone(), `the broker (pid ${pid}) stopped with npm`);
  t.ok(existsSync(join(dir, '.clean-shutdown')), 'and stopped cleanly');
});
