// kill -9 at random instants while the outbox writes, many times; then the file must be intact:
// integrity_check ok, seqs contiguous, no fix that was reported stored missing unless it was sent,
// and the per-device counters equal to what the rows say.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openOutboxDb } from '../agent/outbox/schema.js';

const ROUNDS = 30;
const dir = mkdtempSync(join(tmpdir(), 'outbox-crash-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'outbox.db');
const helper = join(import.meta.dirname, 'helpers', 'agent-outbox-writer.ts');

/** Runs the writer until it has printed `afterLines` lines (plus a random extra delay), then kill -9. */
function runAndKill(round: number, afterLines: number, extraMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', helper, path, String(round * 2_000)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let lines = 0;
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      lines += d.toString().split('\n').length - 1;
      if (!armed && lines >= afterLines) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself: code ${code} signal ${signal}`));
      else resolve(out);
    });
  });
}

t.test('the outbox survives kill -9 at any instant', async (t) => {
  const stored = new Map<string, number>(); // device -> highest seq reported committed
  const sending = new Map<string, Set<number>>();
  let total = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const out = await runAndKill(round, 1 + Math.floor(Math.random() * 200), Math.floor(Math.random() * 30));
    for (const line of out.split('\n')) {
      const [what, dev, seqText] = line.split(' ');
      const seq = Number(seqText);
      if (what === 'stored') {
        stored.set(dev!, Math.max(stored.get(dev!) ?? 0, seq));
        total++;
      } else if (what === 'sending') {
        if (!sending.has(dev!)) sending.set(dev!, new Set());
        sending.get(dev!)!.add(seq);
      }
    }
  }
  t.ok(total > ROUNDS, `${total} fixes reported stored over ${ROUNDS} kills`);

  const db = openOutboxDb(path, { readonly: true });
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const devices = db
    .prepare<
      [],
      {
        id: number;
        device: string;
        next_seq: number;
        pending: number;
        pending_bytes: number;
        dropped_count: number;
      }
    >('SELECT * FROM device')
    .all();
  t.equal(devices.length, 2);
  for (const d of devices) {
    const seqs = db
      .prepare<[number], { seq: number }>('SELECT seq FROM fix WHERE dev = ? ORDER BY seq')
      .all(d.id)
      .map((r) => r.seq);
    const bytes = db
      .prepare<[number], { b: number }>('SELECT coalesce(sum(length(body)), 0) AS b FROM fix WHERE dev = ?')
      .get(d.id)!.b;
    const lo = seqs[0] ?? d.next_seq;
    const hi = seqs.at(-1) ?? d.next_seq - 1;
    t.equal(hi, d.next_seq - 1, `${d.device}: the newest row is next_seq - 1`);
    t.equal(seqs.length, hi - lo + 1, `${d.device}: the rows left are contiguous (no gap, no dupe)`);
    t.ok((stored.get(d.device) ?? 0) <= hi, `${d.device}: every fix reported stored is still known`);
    const sent = sending.get(d.device) ?? new Set();
    const vanished = [];
    for (let s = 1; s < lo; s++) if (!sent.has(s)) vanished.push(s);
    t.same(vanished, [], `${d.device}: rows gone below ${lo} were all handed to the sender`);
    t.equal(d.dropped_count, 0, `${d.device}: nothing was dropped by the bounds`);
    t.equal(d.pending, seqs.length, `${d.device}: the pending counter matches the rows`);
    t.equal(d.pending_bytes, bytes, `${d.device}: the pending bytes counter matches the rows`);
  }
  db.close();
});
