import t, { type Test } from 'tap';
import type { Fix } from '../shared/fix.js';
import { CURRENT_VERSION, decodeFix, encodedSize, encodeFix, FixDecodeError } from '../shared/fixcodec.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../shared/fixvalidate.js';

const full: Fix = {
  deviceId: 'rider-00042',
  seq: 123_456,
  time: Date.UTC(2026, 10, 25, 8, 30, 15, 500),
  lat: 52.5200066,
  lon: 13.404954,
  alt: 34.56,
  speed: 8.33,
  course: 271.25,
  hdop: 0.92,
  sats: 11,
  mode: 3,
  quality: 1,
  droppedThrough: 99_000,
};
const minimal: Fix = { deviceId: 'd', seq: 1, time: MIN_TIME_MS, lat: 0, lon: 0, mode: 2 };

/** The reason a codec call gave for refusing, or a marker that it did not refuse. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof FixDecodeError) return e.reason;
    throw e;
  }
  return '(accepted)';
}

function rejects(t: Test, bytes: Uint8Array, pattern: RegExp): void {
  t.match(
    reasonOf(() => decodeFix(bytes)),
    pattern,
  );
}

t.test('round trip keeps every field at its documented precision', async (t) => {
  for (const fix of [full, minimal]) {
    const bytes = encodeFix(fix);
    t.equal(bytes.length, encodedSize(fix), 'encodedSize agrees with the encoder');
    const back = decodeFix(bytes);
    t.same(Object.keys(back).sort(), Object.keys(fix).sort(), 'same fields present');
    t.equal(back.deviceId, fix.deviceId);
    t.equal(back.seq, fix.seq);
    t.equal(back.time, fix.time);
    t.ok(Math.abs(back.lat - fix.lat) <= 0.5e-7, 'lat within 1e-7 quantum');
    t.ok(Math.abs(back.lon - fix.lon) <= 0.5e-7, 'lon within 1e-7 quantum');
    if (fix.alt !== undefined) t.ok(Math.abs(back.alt! - fix.alt) <= 0.005);
    if (fix.speed !== undefined) t.ok(Math.abs(back.speed! - fix.speed) <= 0.005);
    if (fix.course !== undefined) t.ok(Math.abs(back.course! - fix.course) <= 0.005);
    if (fix.hdop !== undefined) t.ok(Math.abs(back.hdop! - fix.hdop) <= 0.005);
    t.equal(back.sats, fix.sats);
    t.equal(back.quality, fix.quality);
    t.equal(back.droppedThrough, fix.droppedThrough);
    t.equal(back.mode, fix.mode);
  }
  t.equal(encodeFix(full)[0], CURRENT_VERSION);
});

t.test('a typical fix stays small on the wire', async (t) => {
  const size = encodeFix(full).length;
  t.ok(size <= 48, `full fix is ${size} bytes`);
  t.ok(encodeFix(minimal).length <= 21, 'minimal fix');
});

t.test('each field at its boundaries', async (t) => {
  const ok = (patch: Partial<Fix>, msg: string) => {
    const fix = { ...full, ...patch };
    const back = decodeFix(encodeFix(fix));
    for (const [k, v] of Object.entries(patch)) {
      const got = back[k as keyof Fix];
      if (typeof v === 'number')
        t.ok(Math.abs((got as number) - v) < 1e-6 || (k === 'course' && got === 0), `${msg}: ${k}=${got}`);
      else t.equal(got, v, msg);
    }
  };
  const bad = (patch: Partial<Fix>, pattern: RegExp, msg: string) => {
    t.match(
      reasonOf(() => encodeFix({ ...full, ...patch })),
      pattern,
      msg,
    );
  };
  ok({ lat: 90, lon: 180 }, 'north pole, antimeridian');
  ok({ lat: -90, lon: -180 }, 'south pole, antimeridian west');
  bad({ lat: 90.0000001 }, /lat 90.0000001 is outside -90..90/, 'lat just over');
  bad({ lon: -180.0001 }, /lon .* outside -180..180/, 'lon just under');
  ok({ seq: 1, droppedThrough: undefined }, 'seq 1');
  ok({ seq: Number.MAX_SAFE_INTEGER }, 'seq 2^53-1');
  bad({ seq: 0 }, /seq 0 is outside/, 'seq 0');
  bad({ seq: 1.5 }, /seq is 1.5, not an integer/, 'fractional seq');
  ok({ time: MIN_TIME_MS }, 'GPS epoch');
  ok({ time: MAX_TIME_MS }, 'year 2200');
  bad({ time: MIN_TIME_MS - 1 }, /time .* outside/, 'before GPS epoch');
  ok({ alt: -432.1 }, 'Dead Sea');
  ok({ alt: 8848.86 }, 'Everest');
  ok({ speed: 0 }, 'standing still');
  ok({ speed: 655 }, 'speed max');
  bad({ speed: -0.1 }, /speed -0.1 is outside/, 'negative speed');
  ok({ course: 0 }, 'north');
  ok({ course: 359.99 }, 'just west of north');
  ok({ course: 360 }, '360 wraps to 0');
  bad({ course: 360.5 }, /course/, 'course over 360');
  ok({ hdop: 0 }, 'hdop 0');
  ok({ hdop: 99.99 }, 'receiver no-fix hdop');
  ok({ sats: 0 }, 'sats 0');
  ok({ sats: 255 }, 'sats 255');
  bad({ sats: 256 }, /sats 256/, 'sats 256');
  ok({ quality: 0 }, 'quality 0');
  bad({ quality: 16 }, /quality/, 'quality 16');
  bad({ mode: 1 as 2 }, /mode 1 is not 2/, 'mode 1 (no fix) is not a position');
  ok({ deviceId: 'x'.repeat(64) }, '64-byte id');
  bad({ deviceId: 'x'.repeat(65) }, /65 bytes, at most 64/, '65-byte id');
  ok({ deviceId: 'курьер-7' }, 'non-ASCII id');
  bad({ deviceId: 'rider\u00001' }, /deviceId contains a NUL character/, 'NUL in the id');
  // Ids that display as another id on the dashboard, or break its links.
  bad({ deviceId: '\u202e9900-rider' }, /invisible character \(U\+202E\)/, 'a right-to-left override');
  bad({ deviceId: 'rider\u200b7' }, /invisible character \(U\+200B\)/, 'a zero-width space');
  bad({ deviceId: 'rider\n7' }, /invisible character \(U\+000A\)/, 'a newline');
  bad({ deviceId: ' sim-0001' }, /starts or ends with a space/, 'a leading space');
  bad({ deviceId: '..' }, /is a path step/, '..');
  ok({ deviceId: 'a b' }, 'a space inside is fine');
  ok({ deviceId: 'عامل-٣' }, 'right-to-left script itself is fine');
  bad({ droppedThrough: full.seq }, /droppedThrough/, 'droppedThrough must be below seq');
});

t.test('encoder rejects non-finite numbers', async (t) => {
  for (const field of ['lat', 'lon', 'alt', 'speed', 'course', 'hdop'] as const) {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
      t.match(
        reasonOf(() => encodeFix({ ...full, [field]: v })),
        new RegExp(`${field} is .*not a finite number`),
      );
    }
  }
});

t.test('decoder rejects malformed input with a reason', async (t) => {
  const good = encodeFix(full);
  rejects(t, new Uint8Array(0), /truncated: 0 bytes end inside version/);
  for (let n = 1; n < good.length; n++) rejects(t, good.subarray(0, n), /truncated/);
  rejects(t, Buffer.concat([good, Buffer.from([0])]), /1 trailing bytes/);

  const newer = Buffer.from(good);
  newer[0] = CURRENT_VERSION + 1;
  rejects(t, newer, /version 3 is newer than this decoder understands \(2\)/);
  const zero = Buffer.from(good);
  zero[0] = 0;
  rejects(t, zero, /version 0/);

  const unknownFlag = Buffer.from(good);
  unknownFlag[1] = unknownFlag[1]! | 0x80;
  rejects(t, unknownFlag, /unknown flag bits 0x80/);

  // Latitude bytes patched to 91 degrees: the int32 can hold it, the validator must not accept it.
  const latOffset = 3 + 3 + 6; // version, flags, mode, seq (3 bytes), time (6 bytes)
  const lat91 = Buffer.from(good);
  lat91.writeInt32LE(910_000_000, latOffset);
  rejects(t, lat91, /lat 91 is outside -90..90/);
  const lon181 = Buffer.from(good);
  lon181.writeInt32LE(-1_810_000_000, latOffset + 4);
  rejects(t, lon181, /lon -181 is outside -180..180/);

  const emptyId = encodeFix(minimal);
  const idLenOffset = 3 + 1 + 6 + 8;
  t.equal(emptyId[idLenOffset], 1, 'found the id length byte');
  const patched = Buffer.concat([emptyId.subarray(0, idLenOffset), Buffer.from([0])]);
  rejects(t, patched, /deviceId is empty/);

  const badUtf8 = Buffer.from(emptyId);
  badUtf8[idLenOffset + 1] = 0xff;
  rejects(t, badUtf8, /not valid UTF-8/);

  const mode1 = Buffer.from(good);
  mode1[2] = 1;
  rejects(t, mode1, /mode 1/);

  const hugeVarint = Buffer.concat([good.subarray(0, 3), Buffer.alloc(9, 0xff)]);
  rejects(t, hugeVarint, /seq is larger than 2\^53/);
});

t.test(
  'a refused record names its device and seq only when it was read whole with a valid id and seq',
  async (t) => {
    const identityOf = (bytes: Uint8Array) => {
      try {
        decodeFix(bytes);
      } catch (e) {
        if (e instanceof FixDecodeError) return e.identity;
        throw e;
      }
      throw new Error('accepted');
    };
    const good = encodeFix(full);
    const latOffset = 3 + 3 + 6; // version, flags, mode, seq (3 bytes), time (6 bytes)
    const lat91 = Buffer.from(good);
    lat91.writeInt32LE(910_000_000, latOffset);
    t.same(identityOf(lat91), { deviceId: full.deviceId, seq: full.seq }, 'a bad value: known');
    const mode1 = Buffer.from(good);
    mode1[2] = 1;
    t.same(identityOf(mode1), { deviceId: full.deviceId, seq: full.seq });
    t.equal(identityOf(good.subarray(0, good.length - 1)), undefined, 'truncated: unknown');
    t.equal(identityOf(Buffer.concat([good, Buffer.from([0])])), undefined, 'trailing bytes: unknown');
    const newer = Buffer.from(good);
    newer[0] = CURRENT_VERSION + 1;
    t.equal(identityOf(newer), undefined, 'a version it cannot read: unknown');
    // An id the validator refuses (a space at the end), the latitude fine: no identity to record.
    const spaced = encodeFix({ ...full, deviceId: 'abc' });
    spaced[spaced.indexOf('abc') + 2] = 0x20;
    t.match(
      reasonOf(() => decodeFix(spaced)),
      /starts or ends with a space/,
    );
    t.equal(identityOf(spaced), undefined, 'a bad device id: unknown');
  },
);

t.test('version 1 records (before droppedThrough) are still accepted', async (t) => {
  const v1 = encodeFix(full, 1);
  t.equal(v1[0], 1);
  const back = decodeFix(v1);
  t.equal(back.droppedThrough, undefined, 'v1 cannot carry droppedThrough');
  t.equal(back.seq, full.seq);
  const withV2Flag = Buffer.from(v1);
  withV2Flag[1] = withV2Flag[1]! | 0x40;
  rejects(t, withV2Flag, /unknown flag bits 0x40 for version 1/);
});

t.test(
  'device ids the decoder has seen before (shared/device-ids.ts) decode as the first time',
  async (t) => {
    // Same length, one byte apart; an id with a problem is refused every time, never remembered.
    const ids = ['rider-0001', 'rider-0002', 'rider-0001', 'räder-001', 'rider-0002', 'räder-001'];
    for (const deviceId of ids) t.equal(decodeFix(encodeFix({ ...full, deviceId })).deviceId, deviceId);
    const withSpace = Buffer.from(encodeFix({ ...full, deviceId: 'rider-0001' }));
    const at = withSpace.indexOf('rider-0001');
    withSpace[at + 9] = 0x20; // 'rider-000 ': ends with a space
    for (let i = 0; i < 2; i++) rejects(t, withSpace, /deviceId starts or ends with a space/);
    t.equal(decodeFix(encodeFix({ ...full, deviceId: 'rider-0001' })).deviceId, 'rider-0001');
    // A record whose id is known but whose other fields are not valid is still refused.
    const lat91 = Buffer.from(encodeFix({ ...full, deviceId: 'rider-0001' }));
    lat91.writeInt32LE(910_000_000, 3 + 3 + 6);
    rejects(t, lat91, /lat 91 is outside -90..90/);
  },
);
