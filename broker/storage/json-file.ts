// A small durable JSON document: replaced atomically (write temp file, fsync, rename, fsync the
// directory), so after a crash at any instant the file holds either the old or the new value,
// never a torn mix. For metadata that changes rarely (topic configs, producer id block,
// committed offsets if a component wants it); not for per-record data.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class JsonFile<T> {
  constructor(readonly path: string) {}

  /** The stored value, or undefined if never written. Throws if the file is not valid JSON. */
  read(): T | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  write(value: T): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(value));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    fsyncDir(dir);
  }
}

/** Make a rename/create/unlink in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
