// One process per directory, by a file holding the owner's pid: a second broker on one data
// directory would interleave writes into the same segments, a second `npm start` would run a
// second simulator on the same outboxes. A lock whose process is gone (a crash, kill -9) is
// stale and taken over.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Takes the lock at `path`, or returns the pid of the live process that holds it. */
export function takePidLock(path: string): { heldBy: number } | undefined {
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return { heldBy: pid };
  }
  writeFileSync(path, String(process.pid));
  return undefined;
}

export function releasePidLock(path: string): void {
  rmSync(path, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
