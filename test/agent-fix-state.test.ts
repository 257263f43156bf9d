// The fix state `status` shows after an unplug: sentences read before it may still be queued
// when the source reports the port gone. Their fixes are stored (nothing read is lost), but the
// state stays "no fix: gps disconnected" until the receiver is back; it used to flap back to
// "fix" and again to "no fix". When the queue still holds lines at the unplug is a race with a
// real pty, so a source whose queue and state the test sets stands in for the serial port.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { QueueSource } from '../agent/gps/source.js';
import { Outbox } from '../agent/outbox/outbox.js';
import { AgentPipeline } from '../agent/pipeline.js';
import { Sender } from '../agent/sender/sender.js';
import { quietLog, until } from './helpers/agent-kafka.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/nmea/sirfstarv-nmea.log');

class HeldSource extends QueueSource {
  readonly name = 'held';
  push(lines: string[]): void {
    for (const line of lines) this.enqueue({ line, receivedAt: Date.now() });
  }
  set(state: 'connected' | 'gps disconnected', detail?: string): void {
    this.setState(state, detail);
  }
  async close(): Promise<void> {
    this.finish();
  }
}

t.test(
  'fixes read before an unplug are stored, and status says no fix until the receiver is back',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-fixstate-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const lines = readFileSync(FIXTURE, 'latin1')
      .split(/\r?\n/)
      .filter((l) => l.startsWith('$'));
    const third = Math.floor(lines.length / 3);
    const outbox = new Outbox(join(dir, 'outbox.db'));
    const source = new HeldSource();
    const sender = new Sender({
      outbox,
      kafka: { brokers: ['127.0.0.1:1'] }, // offline: the outbox keeps everything, which is all we look at
      topic: 'gps.fixes',
      log: quietLog,
      backoff: { baseMs: 50, capMs: 200 },
    });
    const pipeline = new AgentPipeline({ deviceId: 'bike-u', source, outbox, sender, log: quietLog });
    const ended = pipeline.start();
    const stored = () => outbox.stats()[0]?.nextSeq ?? 1;
    const seen: string[] = [];
    const watch = setInterval(() => {
      if (seen.at(-1) !== pipeline.gps.fix) seen.push(pipeline.gps.fix);
    }, 1);
    t.teardown(() => clearInterval(watch));

    source.set('connected', 'held');
    source.push(lines.slice(0, third));
    await until('fixes stored', () => pipeline.gps.fix === 'fix' && stored() > 3);

    // Unplugged, with a third of the capture still queued behind the state change.
    const before = stored();
    source.set('gps disconnected', 'held is gone (unplugged?)');
    source.push(lines.slice(third, 2 * third));
    await until('the queued fixes stored', () => stored() > before + 3);
    await new Promise((r) => setTimeout(r, 400)); // past the assembler's idle flush (300 ms)
    t.equal(pipeline.gps.fix, 'no fix: gps disconnected', 'still no fix after the queued ones');
    t.same(seen.slice(seen.indexOf('no fix: gps disconnected')), ['no fix: gps disconnected'], 'no flap');

    source.set('connected', 'held');
    source.push(lines.slice(2 * third));
    await until('a fix again once the receiver is back', () => pipeline.gps.fix === 'fix');
    await source.close();
    await ended;
    await sender.stop();
  },
);
