// Producer ids must never repeat across restarts (a reused id would inherit another producer's
// sequence numbers). Ids are reserved in blocks persisted before use: after a crash the next
// run starts past the last reserved block, skipping at most one block of unused ids.
import { join } from 'node:path';
import { JsonFile } from '../storage/json-file.js';

const BLOCK = 1000;

export class ProducerIdAllocator {
  private readonly file: JsonFile<{ reservedUntil: number }>;
  private next: number;
  private reservedUntil: number;

  constructor(stateDir: string) {
    this.file = new JsonFile(join(stateDir, 'producer-ids.json'));
    this.reservedUntil = this.file.read()?.reservedUntil ?? 0;
    this.next = this.reservedUntil;
  }

  allocate(): number {
    if (this.next >= this.reservedUntil) {
      this.reservedUntil = this.next + BLOCK;
      this.file.write({ reservedUntil: this.reservedUntil });
    }
    return this.next++;
  }
}
