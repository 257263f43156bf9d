// The real `ingest run` under a wall clock that steps, as a cloud server's does: a VM resumed from
// suspend or migrated, chrony's makestep at boot, an operator setting the date. A step is not time
// passing: no consumer went quiet, so /healthz must stay ready, the supervisor must not replace a
// consumer (a needless rebalance and pause), every fix must still be stored exactly once, and the
// live streams (the customer's one device, the fleet) must go on pushing each new fix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { encodeFix } from '../shared/fixcodec.js';
import { steppedClock } from './helpers/faketime.js';
import { makeFix } from './helpers/ingest-backends.js';
import { startIngestChild } from './helpers/ingest-child.js';
import { startTestBroker, waitFor } from './helpers/ingest-kafka.js';
import { openSse, type SseClient } from './helpers/sse-client.js';
import { range, sleep, storedSeqsIn } from './helpers/stack.js';

const TOKEN = 'test-token-0123456789abcdef';
const DEVICE = 'rider-clock';
const SESSION_TIMEOUT_MS = 6000;

async function healthz(url: string): Promise<{ status: number; checks: Record<string, string> }> {
  const r = await fetch(`${url}/healthz`);
  const body = (await r.json()) as { checks?: Record<string, string> };
  return { status: r.status, checks: body.checks ?? {} };
}

async function stepCase(t: Test, step: string) {
  const clock = steppedClock(t, '+0');
  const k = await startTestBroker();
  await k.createTopic('gps.fixes', 4);
  const dir = mkdtempSync(join(tmpdir(), 'ingest-clock-'));
  const dbPath = join(dir, 'ingest.db');
  const ingest = startIngestChild(['run', '--flush-ms', '50'], {
    ...clock.env,
    KAFKA_BROKERS: k.address,
    INGEST_SQLITE_PATH: dbPath,
    INGEST_TOKEN: TOKEN,
    INGEST_HTTP_PORT: '0',
    INGEST_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
  });
  t.teardown(async () => {
    if (ingest.exit() === null) {
      ingest.proc.kill('SIGKILL');
      await ingest.exited;
    }
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const says = (msg: string) => ingest.lines.filter((l) => l.msg === msg).length;
  const produce = (seqs: number[]) =>
    k.producer.send({
      topic: 'gps.fixes',
      acks: -1,
      messages: seqs.map((s) => ({ key: DEVICE, value: encodeFix(makeFix(DEVICE, s)) })),
    });
  const stored = (n: number) =>
    waitFor(() => {
      if (ingest.exit() !== null) return [];
      const s = storedSeqsIn(dbPath, DEVICE);
      return s.length >= n ? s : undefined;
    }, 100);

  const url = await waitFor(() => ingest.lines.find((l) => l.msg === 'HTTP server listening')?.url, 50);
  await waitFor(async () => ((await healthz(url)).status === 200 ? true : undefined), 100);
  const streams = {
    device: await openSse(`${url}/api/devices/${DEVICE}/live?token=${TOKEN}`),
    fleet: await openSse(`${url}/api/live?token=${TOKEN}`),
  };
  t.teardown(() => {
    for (const s of Object.values(streams)) s.close();
  });
  const pushed = async (seq: number, when: string) => {
    for (const [name, s] of Object.entries(streams) as [string, SseClient][]) {
      const seqs = () =>
        s.events.filter((e) => e.event === 'fix').map((e) => JSON.parse(e.data).seq as number);
      await s.waitFor(() => seqs().includes(seq), `${name} stream: seq ${seq} ${when}`, 30_000);
      t.ok(seqs().includes(seq), `${name} stream pushed seq ${seq} ${when}`);
    }
  };
  await produce(range(1, 20));
  t.same(await stored(20), range(1, 20), 'before the step: stored');
  await pushed(20, 'before the step');
  const joins = says('joined group');
  t.equal(joins, 3, 'fix-store, trips and live joined once each');

  clock.set(step);
  // Watch for longer than the session timeout (a member silent that long is dropped) and the
  // supervisor's poll: every probe of /healthz in that time must be ready.
  const notReady: string[] = [];
  const watch = (async () => {
    for (let i = 0; i < Math.ceil((3 * SESSION_TIMEOUT_MS) / 250); i++) {
      const h = await healthz(url);
      if (h.status !== 200) notReady.push(JSON.stringify(h.checks));
      await sleep(250);
    }
  })();
  await produce(range(21, 40));
  t.same(await stored(40), range(1, 40), 'after the step: every fix stored once');
  await pushed(40, 'after the step');
  await watch;
  await produce(range(41, 60));
  t.same(await stored(60), range(1, 60), 'and still after the watch');
  await pushed(60, 'after the watch');

  t.equal(ingest.exit(), null, `still running (stderr: ${ingest.stderr().slice(0, 400)})`);
  t.same(notReady, [], '/healthz stayed ready across the step');
  t.equal(says('consumer down; starting a new one'), 0, 'no consumer replaced');
  t.equal(says('joined group'), joins, 'no rejoin (no rebalance)');
  t.same((await healthz(url)).status, 200, '/healthz ready at the end');

  ingest.proc.kill('SIGTERM');
  await ingest.exited;
  t.equal(ingest.exit(), 0, 'clean exit on SIGTERM');
}

t.test(
  'the wall clock steps 30 days forward under a running ingest: nothing replaced, ready, streams flowing',
  (t) => stepCase(t, '+30d'),
);

t.test(
  'the wall clock steps a day back under a running ingest: nothing replaced, ready, streams flowing',
  (t) => stepCase(t, '-1d'),
);
