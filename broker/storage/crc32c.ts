// CRC-32C (Castagnoli), the checksum of Kafka record batches (v2). Table-driven, slicing by 8:
// eight table lookups per 8 input bytes keep it fast enough to verify every produced batch and
// every batch of a segment tail on recovery.
const POLY = 0x82f63b78;

const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let n = 1; n < 8; n++) {
    const prev = t[n - 1]!;
    const tn = new Uint32Array(256);
    for (let i = 0; i < 256; i++) tn[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    t.push(tn);
  }
  return t;
})();

/** `prior`: the CRC of the bytes before `buf` (0: none), so one CRC can run over several buffers. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, prior = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = (prior ^ 0xffffffff) >>> 0;
  let i = start;
  while (i + 8 <= end) {
    crc ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    crc =
      t7[crc & 0xff]! ^
      t6[(crc >>> 8) & 0xff]! ^
      t5[(crc >>> 16) & 0xff]! ^
      t4[crc >>> 24]! ^
      t3[buf[i + 4]!]! ^
      t2[buf[i + 5]!]! ^
      t1[buf[i + 6]!]! ^
      t0[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
    i++;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
