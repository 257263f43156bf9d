// Valid device ids by their bytes in a fix record, for the decoder (fixcodec.ts).
//
// The ingest decodes every fix it consumes, and a fleet's few thousand ids come again in every
// batch. Finding the bytes here costs less than a new string per fix and its validation (a
// Unicode regex among others), and the fixes of a device then share one string: less garbage to
// collect, and the store's sorting and per-device maps compare and hash one string, not copies.
// Only ids that passed validateDeviceId are kept, so a hit is a valid id; the id depends on its
// bytes alone, so the cache cannot change what a record decodes to.

interface Entry {
  bytes: Buffer;
  id: string;
}

export class DeviceIds {
  private readonly byHash = new Map<number, Entry>();

  /** `max`: entries kept before the cache starts over (a bound on memory for any fleet). */
  constructor(private readonly max = 100_000) {}

  /** The id of buf[start, end) if it is known valid, else undefined. `h` is hashBytes' value. */
  get(h: number, buf: Buffer, start: number, end: number): string | undefined {
    const e = this.byHash.get(h);
    if (e === undefined || e.bytes.length !== end - start) return undefined;
    const b = e.bytes;
    for (let i = 0; i < b.length; i++) if (b[i] !== buf[start + i]) return undefined;
    return e.id;
  }

  /** Remembers a valid id (on a hash collision, the latest wins: the other is only a miss). */
  set(h: number, buf: Buffer, start: number, end: number, id: string): void {
    if (this.byHash.size >= this.max) this.byHash.clear();
    this.byHash.set(h, { bytes: Buffer.from(buf.subarray(start, end)), id });
  }
}

/** FNV-1a over buf[start, end), 32 bits: ids are short, and a collision only costs a miss. */
export function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}
