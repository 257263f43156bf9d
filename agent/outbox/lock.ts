// One process per outbox file, for `agent run` and `agent simulate` alike: two senders on one
// outbox would each send the other's rows (the cloud stores them once, but the traffic and the
// status would be doubled and mixed). The lock is `<outbox>.lock`, holding the owner's pid.
import { StartError } from '../../shared/config.js';
import { releasePidLock, takePidLock } from '../../shared/pid-lock.js';

/**
 * Takes the outbox's lock for this process (released at exit), or throws a StartError naming the
 * process that holds it. Called once the outbox opened, so a bad path is reported as such first.
 */
export function lockOutbox(command: string, db: string): void {
  const lock = `${db}.lock`;
  const held = takePidLock(lock);
  if (held)
    throw new StartError(`agent ${command}: the outbox ${db} is in use by agent process ${held.heldBy}`);
  process.on('exit', () => releasePidLock(lock));
}
