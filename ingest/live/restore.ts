// At start the live view is empty and the `live` group resumes after its committed offsets, so a
// device that has been quiet since would be missing from the map and from its customer's stream.
// Its last stored fix (with the time it was stored) is put back from the database instead.
import type { Logger } from '../../shared/log.js';
import type { Store } from '../db/store.js';
import type { LiveView } from './live-view.js';

export async function restoreLiveView(
  live: LiveView,
  store: Pick<Store, 'devices'>,
  log?: Pick<Logger, 'info' | 'warn'>,
): Promise<number> {
  try {
    const devices = await store.devices();
    const n = live.restore(devices.map((d) => ({ fix: d.lastFix, receivedAt: d.lastSeenMs })));
    log?.info({ devices: devices.length, restored: n }, 'live view restored from the database');
    return n;
  } catch (err) {
    // Not fatal: the groups fill the view as fixes arrive, and /healthz reports the database.
    log?.warn({ err }, 'live view not restored: the database did not answer');
    return 0;
  }
}
