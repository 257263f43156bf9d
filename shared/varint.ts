// Unsigned LEB128 varints over JavaScript numbers, exact up to 2^53 - 1. Arithmetic rather
// than bit operators, since those truncate to 32 bits. (Kafka's record format uses the same
// LEB128 + zigzag scheme, but the broker keeps its own copy in its protocol codec.)

const MAX_BYTES = 8; // 8 x 7 bits = 56 bits covers 2^53

export type VarintResult = { value: number; next: number } | 'truncated' | 'overflow';

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

export function readUvarint(buf: Uint8Array, offset: number): VarintResult {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_BYTES; i++) {
    const b = buf[offset + i];
    if (b === undefined) return 'truncated';
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      return value > Number.MAX_SAFE_INTEGER ? 'overflow' : { value, next: offset + i + 1 };
    }
    scale *= 0x80;
  }
  return 'overflow';
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

export function readZigzag(buf: Uint8Array, offset: number): VarintResult {
  const res = readUvarint(buf, offset);
  if (typeof res === 'string') return res;
  const u = res.value;
  return { value: u % 2 === 0 ? u / 2 : -(u + 1) / 2, next: res.next };
}
