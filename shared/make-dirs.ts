// mkdir -p without Node's recursive mkdirSync, which on Node 20 never returns for a path under
// /proc (it retries ENOENT forever): a broker given --data-dir /proc/x hung without a word.
// Here each missing directory is made by itself, so a path that cannot exist fails at once
// with the system's own error (ENOENT, ENOTDIR, EACCES) naming it.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDirs(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      // Made meanwhile by someone else: as good as made here.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
