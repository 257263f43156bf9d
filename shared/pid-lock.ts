// One process per directory or file, by a lock file holding the owner's pid: a second broker on
// one data directory would interleave writes into the same segments, a second `npm start` would
// run a second simulator on the same outboxes, a second agent would send its outbox twice.
//
// A lock whose process is gone (a crash, kill -9) is stale and taken over. So is one from an
// earlier boot: after a power cut the pid in it may belong to some other process by now, and a
// Pi that refused to start its agent until someone deleted a file would collect nothing. The lock
// holds the boot id (Linux) for that, and a live pid counts only if it is a node process.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { bootId } from './process-identity.js';

/** Takes the lock at `path`, or returns the pid of the live process that holds it. */
export function takePidLock(path: string): { heldBy: number } | undefined {
  const thisBoot = bootId();
  if (existsSync(path)) {
    const [pidText, boot] = readFileSync(path, 'utf8').split('\n');
    const pid = Number(pidText);
    const sameBoot = boot === undefined || boot === '' || thisBoot === undefined || boot === thisBoot;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && sameBoot && isNode(pid)) {
      return { heldBy: pid };
    }
  }
  writeFileSync(path, `${process.pid}\n${thisBoot ?? ''}\n`);
  return undefined;
}

export function releasePidLock(path: string): void {
  rmSync(path, { force: true });
}

/** Alive, and (where /proc tells) running node: a pid reused by something else is no holder. */
function isNode(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('node');
  } catch {
    return true; // no /proc (or not ours to read): alive is all we know
  }
}
