// `npm start`, the README's first command: the whole pipeline on embedded defaults. It starts,
// the simulated riders reach the API, Ctrl-C stops everything cleanly, a second `npm start` on
// the same data is refused while the first runs, and a restart resumes (seqs carry on).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventually, freePort } from './helpers/stack.js';

const ROOT = join(import.meta.dirname, '..');

interface Started {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(
  dataDir: string,
  httpPort: number,
  brokerPort: number,
  more: { args?: string[]; env?: Record<string, string> } = {},
): Started {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/start.ts'),
      '--data-dir',
      dataDir,
      '--devices',
      '3',
      '--no-replay',
      '--http-port',
      String(httpPort),
      '--broker-port',
      String(brokerPort),
      ...(more.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, KAFKA_BROKERS: '', INGEST_TOKEN: '', ...more.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exited };
}

/** Each simulated rider's newest seq, as the API tells it. */
async function lastSeqs(httpPort: number, token: string): Promise<Map<string, number>> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/api/devices`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await r.json()) as { devices: { deviceId: string; lastFix: { seq: number } }[] };
  return new Map(body.devices.map((d) => [d.deviceId, d.lastFix.seq]));
}

t.test('npm start: runs, refuses a second start on its data, stops on Ctrl-C, resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npm-start-'));
  const running: Started[] = [];
  t.teardown(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const [httpPort, brokerPort] = [await freePort(), await freePort()];

  // LOG_LEVEL=warn, as someone wanting a quiet terminal might: start waits for its children's
  // own info lines ("listening"), which they must still write to their log files.
  const first = start(dir, httpPort, brokerPort, { env: { LOG_LEVEL: 'warn' } });
  running.push(first);
  t.ok(
    await eventually(() => /dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(first.out()), 120_000),
    `it prints the dashboard URL: ${first.out().slice(-300)}`,
  );
  const token = /token=(\S+)/.exec(first.out())![1]!;
  let before = new Map<string, number>();
  t.ok(
    await eventually(async () => {
      before = await lastSeqs(httpPort, token);
      return before.size === 3 && [...before.values()].every((s) => s >= 3);
    }, 120_000),
    'three simulated riders reach the API, each with fixes',
  );

  // A second start on the same data (other ports, so nothing else would stop it).
  const second = start(dir, await freePort(), await freePort());
  running.push(second);
  t.equal(await second.exited, 1, 'the second start is refused');
  t.match(second.out(), /is in use by another npm start \(pid \d+\)/, 'saying why');
  t.notMatch(second.out(), /dashboard:/, 'without claiming to have started');
  t.notMatch(second.out(), /\n\s+at /, 'in one line, no stack');
  t.equal(first.child.exitCode, null, 'the first one runs on');

  first.child.kill('SIGINT');
  t.equal(await first.exited, 0, 'Ctrl-C stops everything with exit 0');
  t.notOk(existsSync(join(dir, 'start.lock')), 'and lets go of its data');

  const again = start(dir, httpPort, brokerPort);
  running.push(again);
  t.ok(
    await eventually(async () => {
      const now = await lastSeqs(httpPort, token).catch(() => new Map<string, number>());
      return [...before].every(([id, seq]) => (now.get(id) ?? 0) > seq);
    }, 120_000),
    'after a restart, each rider carries on from its stored seqs',
  );
  again.child.kill('SIGINT');
  t.equal(await again.exited, 0);
});

t.test('npm start refuses what it cannot do, in one line in the terminal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npm-start-bad-'));
  const running: Started[] = [];
  t.teardown(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const run = async (
    name: string,
    more: Parameters<typeof start>[3],
    brokerPort?: number,
    httpPort?: number,
  ) => {
    const s = start(join(dir, name), httpPort ?? (await freePort()), brokerPort ?? (await freePort()), more);
    running.push(s);
    return { code: await s.exited, out: s.out() };
  };

  // Before, strict:false ran the defaults (50 riders) for a misspelt --devices.
  const typo = await run('typo', { args: ['--devics', '3'] });
  t.equal(typo.code, 2, 'a misspelt option is a usage error');
  t.match(typo.out, /start: unknown option --devics \(see npm start -- --help\)/);

  // Empty, it used to read as not given: the whole stack started on ./data.
  const noDir = await run('no-dir', { args: ['--data-dir', ''] });
  t.equal(noDir.code, 2, 'an empty option value is a usage error');
  t.match(noDir.out, /start: --data-dir "" is empty: give a value, or leave the option out/);

  // Before, only "ingest exited unexpectedly (code 2)" reached the terminal; the why was in its log.
  const badEnv = await run('bad-env', { env: { DATABASE_URL: 'mysql://x' } });
  t.equal(badEnv.code, 1);
  t.match(
    badEnv.out,
    /ingest exited unexpectedly \(code 2\): .*DATABASE_URL/,
    "the ingest's own line, naming the variable",
  );

  // INGEST_SQLITE_PATH in an ENV_FILE is the ingest's to read: start used to override it with
  // its own data/ingest.db, so the operator's database was silently not used.
  const envFile = join(dir, 'start.env');
  writeFileSync(envFile, 'INGEST_SQLITE_PATH=/nonexistent-dir/fleet.db\n');
  const fromFile = await run('env-file', { env: { ENV_FILE: envFile } });
  t.equal(fromFile.code, 1);
  t.match(
    fromFile.out,
    /cannot open the SQLite database \/nonexistent-dir\/fleet\.db \(INGEST_SQLITE_PATH\)/,
  );

  // Another program on the broker port: before, start took its answer for the broker's and made
  // the topics there.
  const other = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.teardown(() => other.close());
  const port = (other.address() as AddressInfo).port;
  const busy = await run('busy', {}, port);
  t.equal(busy.code, 1);
  t.match(busy.out, /broker exited unexpectedly \(code 1\): broker: cannot start: listen EADDRINUSE/);
  t.notMatch(busy.out, /topics ready/, 'no topics made on the other program');

  // Another HTTP server on the dashboard port, answering 200 to everything (another stack's
  // ingest): before, start took its /healthz for its own ingest's and printed a dashboard URL
  // with this start's token for that server, and only then that the ingest had failed.
  const foreign = createHttpServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  t.teardown(() => foreign.close());
  const httpBusy = await run('http-busy', {}, undefined, (foreign.address() as AddressInfo).port);
  t.equal(httpBusy.code, 1);
  t.match(httpBusy.out, /ingest exited unexpectedly \(code 1\): .*EADDRINUSE/);
  t.notMatch(httpBusy.out, /dashboard:|token=|Bearer/, 'no URL or token printed for the other server');
});
