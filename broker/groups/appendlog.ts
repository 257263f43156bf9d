// A durable append-only file with group commit: appends queued while one fsync runs are written
// and synced together by the next, so many OffsetCommits cost one fdatasync, and each caller's
// promise resolves only once its bytes are on disk.
//
// Crash safety: frames are checksummed (frame.ts), so a crash mid-write leaves a torn tail that
// open() cuts off. A failed write (disk full, EIO) truncates back to the last synced length, so a
// partial frame never sits in front of later good ones. Compaction writes a fresh file beside the
// log, fsyncs it, renames it over the log and fsyncs the directory: either the old or the new file
// is what a crash leaves, never a mix.
import { type FileHandle, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeFrames, encodeFrame } from './frame.js';

interface Pending {
  readonly frame: Buffer;
  /** Runs synchronously once the frame is durable, before any later append or a compaction. */
  readonly onDurable: () => void;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export interface OpenedLog {
  readonly log: AppendLog;
  readonly payloads: Buffer[];
  /** Set when a torn or corrupt tail was cut off at open. */
  readonly recovered: string | null;
}

export class AppendLog {
  /** fdatasync rounds and records made durable, for the group-commit ratio (bench, metrics). */
  syncs = 0;
  records = 0;
  compactions = 0;
  private queue: Pending[] = [];
  private running = false;
  private closed = false;
  /** Set when the file can no longer be trusted to take appends; every later append is refused. */
  private broken: Error | null = null;
  private snapshotSize: number;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  private constructor(
    private fh: FileHandle,
    readonly path: string,
    private size: number,
    /** Payloads describing the live state, for compaction; null = never compact. */
    private readonly snapshot: (() => Buffer[]) | null,
    private readonly compactFloor: number,
  ) {
    this.snapshotSize = size;
  }

  static async open(
    path: string,
    snapshot: (() => Buffer[]) | null,
    opts: { compactFloorBytes?: number } = {},
  ): Promise<OpenedLog> {
    // 'wx' creates the file only if missing; then the directory is synced so the new name is as
    // durable as the first record that will be fsync'd into it.
    const created = await open(path, 'wx').then(
      (fh) => fh.close().then(() => true),
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
    if (created) await syncDir(dirname(path));
    const bytes = await readFile(path);
    const decoded = decodeFrames(bytes);
    const fh = await open(path, 'r+');
    let recovered: string | null = null;
    if (decoded.validLength < bytes.length) {
      recovered = `${decoded.stopReason}; cut ${bytes.length - decoded.validLength} trailing bytes`;
      await fh.truncate(decoded.validLength);
      await fh.datasync();
    }
    const log = new AppendLog(fh, path, decoded.validLength, snapshot, opts.compactFloorBytes ?? 1 << 20);
    return { log, payloads: decoded.payloads, recovered };
  }

  get bytes(): number {
    return this.size;
  }

  /** Resolves once the payload is durable; onDurable runs first, in append order. */
  append(payload: Buffer, onDurable: () => void = () => {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error('group state log is closed'));
    const frame = encodeFrame(payload);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, onDurable, resolve, reject });
      if (!this.running) {
        this.running = true;
        this.idle = new Promise((r) => {
          this.markIdle = r;
        });
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      const buf = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((p) => p.frame));
      if (this.broken) {
        for (const p of batch) p.reject(this.broken);
        continue;
      }
      let stage = 'write';
      try {
        let written = 0;
        while (written < buf.length) {
          const { bytesWritten } = await this.fh.write(
            buf,
            written,
            buf.length - written,
            this.size + written,
          );
          written += bytesWritten;
        }
        stage = 'fdatasync';
        await this.fh.datasync();
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (stage === 'write') {
          // Out of space or over a limit: cut the partial frame so later appends are not hidden
          // behind it at the next open, and carry on (the next append may fit).
          await this.fh.truncate(this.size).catch((te: unknown) => {
            this.broken = new Error(`group state log unusable: cutting a failed append failed (${te})`);
          });
        } else {
          // After a failed fsync the kernel may have dropped the dirty pages and a retry can
          // falsely succeed; only a restart (replaying what is really on disk) is trustworthy.
          this.broken = new Error(
            `group state log unusable after a failed fdatasync (${e.message}); restart the broker`,
          );
        }
        for (const p of batch) p.reject(e);
        continue;
      }
      this.size += buf.length;
      this.syncs++;
      this.records += batch.length;
      for (const p of batch) p.onDurable();
      for (const p of batch) p.resolve();
      if (this.snapshot && this.size > Math.max(this.compactFloor, 4 * this.snapshotSize)) {
        await this.compact().catch(() => {
          // Compaction is an optimisation; the log stays valid and grows until the next try.
          this.snapshotSize = this.size;
        });
      }
    }
    this.running = false;
    this.markIdle();
  }

  private async compact(): Promise<void> {
    const payloads = this.snapshot!();
    const buf = Buffer.concat(payloads.map(encodeFrame));
    const tmp = `${this.path}.compact`;
    const out = await open(tmp, 'w');
    try {
      await out.write(buf, 0, buf.length, 0);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    const old = this.fh;
    this.fh = await open(this.path, 'r+');
    await old.close();
    this.size = buf.length;
    this.snapshotSize = buf.length;
    this.compactions++;
  }

  /** Waits for queued appends, then closes. Later appends are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
    await this.fh.close();
    await rm(`${this.path}.compact`, { force: true });
  }
}

async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
