// The durable group state log: survives torn tails and corruption by keeping the intact prefix,
// compacts without losing the latest values, and batches concurrent appends into few fsyncs.
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeFrames, encodeFrame } from '../broker/groups/frame.js';
import { GroupStore } from '../broker/groups/store.js';
import { tempDir } from './helpers/broker-harness.js';

const w = (topic: string, partition: number, offset: number) => ({
  topic,
  partition,
  offset,
  leaderEpoch: -1,
  metadata: null,
  commitTimestamp: 1,
});

t.test('frames: intact prefix kept, torn or corrupt tail reported', async (t) => {
  const a = encodeFrame(Buffer.from('one'));
  const b = encodeFrame(Buffer.from('two'));
  const whole = Buffer.concat([a, b]);
  t.same(decodeFrames(whole).payloads.map(String), ['one', 'two']);
  for (let cut = 1; cut < b.length; cut++) {
    const d = decodeFrames(whole.subarray(0, a.length + cut));
    t.same(d.payloads.map(String), ['one'], `cut ${cut} bytes into the second frame`);
    t.equal(d.validLength, a.length);
  }
  const flipped = Buffer.from(whole);
  flipped[whole.length - 1]! ^= 1;
  const d = decodeFrames(flipped);
  t.same(d.payloads.map(String), ['one']);
  t.match(d.stopReason, /checksum/);
});

t.test('a torn append at the end is cut at open; everything acknowledged before survives', async (t) => {
  const dir = tempDir(t, 'groups-store-');
  let s = await GroupStore.open(dir);
  await s.commitOffsets('g', [w('t', 0, 5), w('t', 1, 6)]);
  await s.commitOffsets('g', [w('t', 0, 7)]);
  await s.close();
  const path = join(dir, 'groups.log');
  const good = statSync(path).size;
  // A crash mid-write: half of a frame that was never acknowledged.
  const torn = encodeFrame(Buffer.from(JSON.stringify({ t: 'o', g: 'g', o: [['t', 0, 999, -1, null, 1]] })));
  appendFileSync(path, torn.subarray(0, torn.length - 3));
  s = await GroupStore.open(dir);
  t.match(s.recovered, /torn frame/);
  t.equal(statSync(path).size, good, 'the torn bytes were cut');
  t.equal(s.committed('g', 't', 0)?.offset, 7);
  t.equal(s.committed('g', 't', 1)?.offset, 6);
  await s.commitOffsets('g', [w('t', 0, 8)]);
  await s.close();
  s = await GroupStore.open(dir);
  t.equal(s.recovered, null);
  t.equal(s.committed('g', 't', 0)?.offset, 8, 'appends after the repair are readable');
  await s.close();
});

t.test('an intact record this version does not understand is skipped, not fatal', async (t) => {
  const dir = tempDir(t, 'groups-store-');
  const path = join(dir, 'groups.log');
  writeFileSync(
    path,
    Buffer.concat([
      encodeFrame(Buffer.from('{"t":"future","x":1}')),
      encodeFrame(Buffer.from('not json')),
      encodeFrame(Buffer.from(JSON.stringify({ t: 'o', g: 'g', o: [['t', 0, 3, -1, null, 1]] }))),
    ]),
  );
  const s = await GroupStore.open(dir);
  t.equal(s.skipped, 2);
  t.equal(s.committed('g', 't', 0)?.offset, 3);
  await s.close();
});

t.test('compaction keeps the latest value of everything and bounds the file', async (t) => {
  const dir = tempDir(t, 'groups-store-');
  let s = await GroupStore.open(dir, { compactFloorBytes: 4096 });
  await s.saveGroup({
    groupId: 'g',
    generationId: 1,
    protocolType: null,
    protocolName: null,
    leaderId: null,
    members: [],
  });
  for (let i = 0; i < 400; i++) {
    await s.commitOffsets(i % 2 ? 'g' : 'h', [w('t', i % 3, i)]);
  }
  await s.saveGroup({
    groupId: 'g',
    generationId: 9,
    protocolType: null,
    protocolName: null,
    leaderId: null,
    members: [],
  });
  const size = statSync(join(dir, 'groups.log')).size;
  t.ok(size < 8192, `log stays small (${size} bytes after 400 commits)`);
  await s.close();
  s = await GroupStore.open(dir);
  const expected = (group: string, p: number) => {
    let last = -1;
    for (let i = 0; i < 400; i++) if ((i % 2 ? 'g' : 'h') === group && i % 3 === p) last = i;
    return last;
  };
  for (const g of ['g', 'h']) {
    for (const p of [0, 1, 2]) t.equal(s.committed(g, 't', p)?.offset, expected(g, p), `${g} t/${p}`);
  }
  t.equal([...s.storedGroups()].find((x) => x.groupId === 'g')?.generationId, 9);
  t.equal(decodeFrames(readFileSync(join(dir, 'groups.log'))).stopReason, null);
  await s.close();
});

t.test('concurrent commits share fsyncs and all become durable in order', async (t) => {
  const dir = tempDir(t, 'groups-store-');
  let s = await GroupStore.open(dir);
  await Promise.all(Array.from({ length: 200 }, (_, i) => s.commitOffsets('g', [w('t', 0, i)])));
  t.equal(s.committed('g', 't', 0)?.offset, 199, 'the last append wins in memory');
  await s.close();
  s = await GroupStore.open(dir);
  t.equal(s.committed('g', 't', 0)?.offset, 199, 'and on disk');
  await s.close();
  await t.rejects(s.commitOffsets('g', [w('t', 0, 1)]), /closed/, 'a closed store refuses appends');
});
