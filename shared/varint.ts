// Unsigned LEB128 varints over JavaScript numbers, exact up to 2^53 - 1; fixcodec.ts's Cursor
// reads them in place. Arithmetic rather than bit operators, since those truncate to 32 bits.
// (Kafka's record format uses the same LEB128 + zigzag scheme, but the broker keeps its own copy
// in its protocol codec.)

export const MAX_VARINT_BYTES = 8; // 8 x 7 bits = 56 bits covers 2^53

export function writeUvarint(buf: Buffer, offset: number, value: number): number {
  let v = value;
  let o = offset;
  while (v >= 0x80) {
    buf[o++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[o++] = v;
  return o;
}

export function uvarintSize(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** Zigzag maps small negative numbers to small unsigned ones: 0,-1,1,-2 -> 0,1,2,3. */
export function writeZigzag(buf: Buffer, offset: number, value: number): number {
  return writeUvarint(buf, offset, value >= 0 ? value * 2 : -value * 2 - 1);
}
