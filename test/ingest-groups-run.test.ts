// `npm run ingest -- run` as a real process with its defaults: all three groups (fix-store, trips,
// live) and the HTTP server, on the embedded broker and an SQLite file.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { SqliteStore } from '../ingest/db/sqlite.js';
import { encodeFix } from '../shared/fixcodec.js';
import { makeFix } from './helpers/ingest-backends.js';
import { startTestBroker, waitFor } from './helpers/ingest-kafka.js';

const TOKEN = 'test-token-0123456789abcdef';

/** A test broker and a scratch directory, both gone at the test's end. */
async function brokerAndDir(t: Test, prefix: string) {
  const k = await startTestBroker();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(async () => {
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { k, dir };
}

t.test('run: all groups and HTTP in one process; SIGTERM stops cleanly', async (t) => {
  const k = await startTestBroker();
  const dir = mkdtempSync(join(tmpdir(), 'ingest-run-'));
  const dbPath = join(dir, 'ingest.db');
  await k.createTopic('gps.fixes', 4);
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'run', '--flush-ms', '20'], {
    env: {
      ...process.env,
      KAFKA_BROKERS: k.address,
      INGEST_SQLITE_PATH: dbPath,
      INGEST_TOKEN: TOKEN,
      INGEST_HTTP_PORT: '0',
      INGEST_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: number | string | null = null;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = code ?? signal;
      resolve();
    }),
  );
  let url: string | undefined;
  const joined = new Set<string>();
  let running: Record<string, unknown> | undefined;
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const e = JSON.parse(line);
      if (e.msg === 'HTTP server listening') url = e.url;
      if (e.msg === 'joined group') joined.add(e.group);
      if (e.msg === 'ingest running') running = e;
    } catch {
      // not a log line
    }
  });
  t.teardown(async () => {
    if (exit === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  await waitFor(() => (joined.size === 3 && url ? true : exit !== null ? 'dead' : undefined));
  t.equal(exit, null, `running (stderr: ${stderr.slice(0, 500)})`);
  t.same([...joined].sort(), ['fix-store', 'live', 'trips']);
  // With the live group in the process, the store groups run on their own thread (ingest/groups-thread.ts).
  t.equal(running?.['groupThreads'], 1, 'store groups on their own thread, one fix-store member');

  // 11 m a second at a reported 11 m/s (a step of 111 m a second would be a wild fix to the trips).
  const fixes = [1, 2, 3, 4, 5].map((s) => makeFix('rider-7', s, { speed: 11, lat: 52.5 + s * 1e-4 }));
  await k.producer.send({
    topic: 'gps.fixes',
    messages: [
      ...fixes.map((f) => ({ key: f.deviceId, value: encodeFix(f) })),
      { key: 'rider-7', value: Buffer.from([2, 0]) },
    ],
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const devices = await waitFor(async () => {
    const r = await fetch(`${url}/api/devices`, { headers: auth });
    const body = (await r.json()) as {
      devices: { deviceId: string; fixCount: number; lastFix: { seq: number } }[];
    };
    const d = body.devices.find((x) => x.deviceId === 'rider-7');
    return d && d.fixCount === 5 ? d : undefined;
  }, 100);
  t.equal(devices.lastFix.seq, 5, 'stored fixes served over HTTP');
  t.equal((await fetch(`${url}/api/devices`)).status, 401, 'the API wants the token');

  const store = new SqliteStore(dbPath);
  await store.migrate();
  t.teardown(() => store.close());
  const trips = await waitFor(async () => {
    const rows = await store.trips('rider-7');
    return rows[0]?.fixes === 5 ? rows : undefined;
  }, 100);
  t.ok(
    Math.abs(trips[0]!.distanceM - 4 * 11.12) < 0.5,
    `trips group folded the drive: ${trips[0]!.distanceM} m`,
  );

  const metricsText = await waitFor(async () => {
    const m = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    const written = [...m.matchAll(/ingest_written_fixes_total\{group="[^"]+"\} (\d+)/g)];
    const sum = written.reduce((a, x) => a + Number(x[1]), 0);
    return /ingest_dlq_records_total\{group="fix-store",reason="truncated"\} 1/.test(m) && sum >= 5
      ? m
      : undefined;
  }, 200);
  // fix-store and trips both store fixes idempotently; whichever is first counts them.
  const written = [...metricsText.matchAll(/ingest_written_fixes_total\{group="[^"]+"\} (\d+)/g)];
  t.equal(
    written.reduce((a, m) => a + Number(m[1]), 0),
    5,
    'written over all groups = rows stored',
  );
  // One /metrics for both threads: the live group's series (this thread), the store groups' (their
  // thread) and the process's own, once each.
  t.match(metricsText, /ingest_consumed_fixes_total\{group="live"\} 6/);
  t.match(metricsText, /ingest_consumed_fixes_total\{group="fix-store"\} 6/);
  t.match(metricsText, /ingest_consumed_fixes_total\{group="trips"\} 6/);
  t.equal(metricsText.match(/^process_start_time_seconds /gm)?.length, 1, 'process metrics once');
  t.match(metricsText, /^process_start_time_seconds \d{10}/m, 'not summed over threads');
  const health = (await (await fetch(`${url}/healthz`)).json()) as {
    status: string;
    checks: Record<string, string>;
  };
  t.same(
    Object.keys(health.checks).sort(),
    ['database', 'group:fix-store', 'group:live', 'group:trips', 'kafka'],
    'one health check per group, whichever thread runs it',
  );
  t.equal(health.status, 'ok', JSON.stringify(health.checks));
  t.match(metricsText, /ingest_consumer_lag\{group="fix-store",topic="gps.fixes",partition="\d+"\}/);

  child.kill('SIGTERM');
  await exited;
  t.equal(exit, 0, 'clean exit on SIGTERM');
});

t.test('a consumer group that stops for good makes the process exit 1, saying why', async (t) => {
  const { k, dir } = await brokerAndDir(t, 'ingest-fatal-');
  // The broker refuses a session timeout below its group.min.session.timeout.ms (6 s).
  const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'run', '--no-http'], {
    env: {
      ...process.env,
      KAFKA_BROKERS: k.address,
      INGEST_SQLITE_PATH: join(dir, 'x.db'),
      INGEST_GROUPS: 'fix-store',
      INGEST_SESSION_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 1, 'exits non-zero instead of idling');
  t.match(stderr, /consumer group fix-store stopped: .*session timeout/);
});

t.test('fix-store members: two by default without the live group, one beside it, or as set', async (t) => {
  const { k, dir } = await brokerAndDir(t, 'ingest-members-');
  await k.createTopic('gps.fixes', 4);
  /** The 'ingest running' line of `ingest run` with these groups and settings, then SIGTERM. */
  const running = async (groups: string, env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'run', '--groups', groups], {
      env: {
        ...process.env,
        KAFKA_BROKERS: k.address,
        INGEST_SQLITE_PATH: join(dir, `${groups}-${Object.keys(env).length}.db`),
        INGEST_TOKEN: TOKEN,
        INGEST_HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    let line: Record<string, unknown> | undefined;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const e = JSON.parse(l);
        if (e.msg === 'ingest running') line = e;
      } catch {
        // not a log line
      }
    });
    await waitFor(() => line ?? (child.exitCode !== null ? 'dead' : undefined));
    child.kill('SIGTERM');
    t.equal(await exited, 0, `${groups}: clean exit`);
    return line;
  };
  t.match(
    await running('fix-store,trips'),
    { fixStoreMembers: 2, groupThreads: 1 },
    'without the live group: two members, the second on a thread',
  );
  t.match(
    await running('fix-store,trips,live'),
    { fixStoreMembers: 1, groupThreads: 1 },
    'beside the live group: one (the store groups share one thread)',
  );
  t.match(
    await running('fix-store', { INGEST_FIX_STORE_MEMBERS: '3' }),
    { fixStoreMembers: 3, groupThreads: 2 },
    'as set',
  );
  t.notOk('fixStoreMembers' in ((await running('live')) ?? {}), 'no fix-store group, no member count');
});
