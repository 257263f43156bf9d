// ingest/db/fix-columns.ts: a batch of fixes as columns comes back field for field, absent
// fields absent, and its buffers move to another thread instead of being copied.
import { deepStrictEqual } from 'node:assert';
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import { packFixes, unpackFixes } from '../ingest/db/fix-columns.js';
import type { Fix } from '../shared/fix.js';

const OPTIONAL = ['alt', 'speed', 'course', 'hdop', 'sats', 'quality', 'droppedThrough'] as const;
const VALUES = {
  alt: -12.34,
  speed: 3.21,
  course: 359.99,
  hdop: 0.8,
  sats: 12,
  quality: 4,
  droppedThrough: 7,
};

const roundTrip = (fixes: Fix[]) => unpackFixes(packFixes(fixes).packed);

t.test('every combination of optional fields comes back as it went', async (t) => {
  const fixes: Fix[] = [];
  for (let mask = 0; mask < 1 << OPTIONAL.length; mask++) {
    // Built in decodeFix's field order, so that the key order is checked too.
    const f: Fix = {
      deviceId: `d${mask % 5}`,
      seq: mask + 1,
      time: 1_700_000_000_000 + mask,
      lat: 1,
      lon: 2,
      mode: 3,
    };
    OPTIONAL.forEach((k, bit) => {
      if (mask & (1 << bit)) f[k] = VALUES[k];
    });
    fixes.push(f);
  }
  const back = roundTrip(fixes);
  t.strictSame(back, fixes);
  t.doesNotThrow(() => deepStrictEqual(back, fixes), 'node:assert deepStrictEqual agrees');
  for (let i = 0; i < fixes.length; i++) {
    t.same(Object.keys(back[i]!), Object.keys(fixes[i]!), `key order of combination ${i}`);
  }
  t.notOk(
    back.some((f) => OPTIONAL.some((k) => k in f && f[k] === undefined)),
    'no field is present with undefined',
  );
});

t.test('extreme values are exact', async (t) => {
  const fixes: Fix[] = [
    {
      deviceId: 'x'.repeat(64),
      seq: Number.MAX_SAFE_INTEGER,
      time: 8.64e15,
      lat: -90,
      lon: -180,
      mode: 2,
      alt: -430.5,
      droppedThrough: Number.MAX_SAFE_INTEGER - 1,
    },
    { deviceId: 'ünïcødé-☃', seq: 1, time: 0, lat: 90, lon: 180, mode: 3, alt: 0, speed: 0, course: 0 },
    { deviceId: 'tiny', seq: 2, time: 1, lat: 1e-7, lon: -1e-7, mode: 3, hdop: 99.99, sats: 0, quality: 0 },
  ];
  t.strictSame(roundTrip(fixes), fixes);
});

t.test('many devices, interleaved, and the empty batch', async (t) => {
  const fixes: Fix[] = [];
  for (let i = 0; i < 20_000; i++) {
    fixes.push({
      deviceId: `dev-${i % 777}`,
      seq: 1 + Math.floor(i / 777),
      time: i,
      lat: 10,
      lon: 20,
      mode: 3,
    });
  }
  const { packed } = packFixes(fixes);
  t.equal(packed.ids.length, 777, 'one entry per distinct id');
  t.strictSame(unpackFixes(packed), fixes);
  t.strictSame(roundTrip([]), []);
});

t.test('the buffers are transferred, not copied', async (t) => {
  const fixes = [1, 2, 3].map(
    (seq): Fix => ({ deviceId: 'a', seq, time: seq, lat: 0, lon: 0, mode: 3, sats: 5 }),
  );
  const { packed, transferList } = packFixes(fixes);
  t.equal(transferList.length, 3);
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => port1.close());
  const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
  port1.postMessage(packed, transferList);
  for (const b of transferList) t.equal(b.byteLength, 0, 'detached on this side');
  t.equal(packed.nums.length, 0, 'the views with them');
  t.strictSame(unpackFixes((await received) as typeof packed), fixes, 'whole on the other side');
});
