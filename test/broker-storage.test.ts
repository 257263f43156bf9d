// Partition log storage directly: sparse index lookups land on the right batch across segments,
// damaged or missing index files are rebuilt from the log, timestamps are found across segments.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_TOPIC_DEFAULTS } from '../broker/config.js';
import { GroupFlusher } from '../broker/storage/flusher.js';
import { PartitionLog } from '../broker/storage/log.js';
import { silent, tempDir } from './helpers/broker-harness.js';
import { batchOffsets, buildBatch } from './helpers/broker-raw.js';

const cfg = { ...DEFAULT_TOPIC_DEFAULTS, segmentBytes: 16 * 1024 };
const open = (dir: string, clean: boolean) =>
  PartitionLog.open(dir, 't', 0, () => cfg, 512, new GroupFlusher(), silent, clean);

function fill(log: PartitionLog): { offsets: number[]; timestamps: number[] } {
  const offsets: number[] = [];
  const timestamps: number[] = [];
  for (let i = 0; i < 400; i++) {
    // 1-5 records per batch, varying sizes, timestamps rising by 10 ms per batch.
    const n = 1 + (i % 5);
    const ts = 1_000_000 + i * 10;
    const records = Array.from({ length: n }, (_, j) => ({
      value: Buffer.alloc(20 + ((i * 7 + j) % 90), i % 256),
    }));
    const r = log.append(buildBatch(records, { baseTimestamp: ts }));
    if (r.errorCode !== 0 || !('baseOffset' in r)) throw new Error('append failed');
    offsets.push(r.baseOffset);
    timestamps.push(ts);
  }
  return { offsets, timestamps };
}

function checkReads(t: Test, log: PartitionLog, batchStarts: number[], label: string) {
  let bad = 0;
  for (let o = 0; o < log.logEndOffset; o += 3) {
    const r = log.read(o, 1);
    const first = r.errorCode === 0 && r.records ? batchOffsets(r.records)[0] : undefined;
    // The batch returned must be the one containing o: the last batch start <= o.
    const expected = batchStarts.filter((s) => s <= o).pop();
    if (first !== expected) bad++;
  }
  t.equal(bad, 0, `${label}: every read starts at the batch holding the offset`);
}

t.test('lookups, rebuilt indexes and timestamps across segments', async (t) => {
  const dir = tempDir(t);
  let log = open(dir, true);
  const { offsets, timestamps } = fill(log);
  t.ok(log.segmentCount > 5, `${log.segmentCount} segments`);
  await log.flush(); // reads stop at what is fsync'ed
  checkReads(t, log, offsets, 'fresh');
  log.closeClean();

  // Garbage in one index, another index missing entirely: both rebuilt from the log.
  const files = readdirSync(dir).sort();
  const indexes = files.filter((f) => f.endsWith('.index'));
  writeFileSync(join(dir, indexes[1]!), Buffer.from('not an index at all!'));
  rmSync(join(dir, indexes[2]!));
  rmSync(join(dir, indexes[2]!.replace('.index', '.timeindex')));
  log = open(dir, true);
  t.equal(log.logEndOffset, offsets.at(-1)! + 5, 'end offset recovered');
  checkReads(t, log, offsets, 'rebuilt indexes');

  for (const i of [0, 57, 123, 250, 399]) {
    t.same(
      log.offsetForTimestamp(timestamps[i]!),
      { offset: offsets[i], timestamp: timestamps[i] },
      `timestamp of batch ${i}`,
    );
    t.same(log.offsetForTimestamp(timestamps[i]! - 5)?.offset, offsets[i], `just before batch ${i}`);
  }
  t.equal(log.offsetForTimestamp(timestamps.at(-1)! + 1), null, 'after the last timestamp: none');
  t.same(log.maxTimestamp(), { offset: offsets.at(-1), timestamp: timestamps.at(-1) });

  // Unclean open (as after kill -9) verifies the active segment and keeps it whole.
  log.close();
  log = open(dir, false);
  checkReads(t, log, offsets, 'after unclean open');
  log.close();
});
