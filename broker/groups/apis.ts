// The consumer group APIs, bound to one coordinator per broker. The coordinator opens its state
// (offsets, groups) from broker.stateDir('groups') as the broker starts; requests that arrive while
// it loads wait for it. Its timers stop and its log closes in broker.onStop.
import { deleteGroups } from '../protocol/deleteGroups/index.js';
import { describeGroups } from '../protocol/describeGroups/index.js';
import { findCoordinator } from '../protocol/findCoordinator/index.js';
import { heartbeat } from '../protocol/heartbeat/index.js';
import { joinGroup } from '../protocol/joinGroup/index.js';
import { leaveGroup } from '../protocol/leaveGroup/index.js';
import { listGroups } from '../protocol/listGroups/index.js';
import { offsetCommit } from '../protocol/offsetCommit/index.js';
import { offsetFetch } from '../protocol/offsetFetch/index.js';
import { syncGroup } from '../protocol/syncGroup/index.js';
import type { ApiHandler } from '../server/api.js';
import type { BrokerContext } from '../server/context.js';
import { GroupCoordinator } from './coordinator.js';
import { bindCoordinator } from './handler.js';
import { GroupStore } from './store.js';

export function createGroupApis(broker: BrokerContext): ApiHandler[] {
  const log = broker.log.child({ component: 'groups' });
  const ready = (async () => {
    const store = await GroupStore.open(broker.stateDir('groups'));
    if (store.recovered) log.warn({ repair: store.recovered }, 'groups: state log repaired at open');
    if (store.skipped > 0) log.warn({ skipped: store.skipped }, 'groups: unreadable state records skipped');
    return new GroupCoordinator({
      store,
      log,
      settings: broker.config.groups,
      topicIdOf: (topic) => broker.topics.get(topic)?.id,
      partitionExists: (topic, partition) => {
        const t = broker.topics.get(topic);
        return !!t && Number.isInteger(partition) && partition >= 0 && partition < t.partitions.length;
      },
    });
  })();
  // A failed load is reported once here and then as a thrown error (closed connection) per request.
  ready.catch((err: unknown) => log.error({ err }, 'groups: could not open group state'));
  broker.onStop(async () => {
    const c = await ready.catch(() => null);
    await c?.close();
  });
  const coordinator = () => ready;
  return [
    findCoordinator,
    bindCoordinator(joinGroup, coordinator),
    bindCoordinator(syncGroup, coordinator),
    bindCoordinator(heartbeat, coordinator),
    bindCoordinator(leaveGroup, coordinator),
    bindCoordinator(offsetCommit, coordinator),
    bindCoordinator(offsetFetch, coordinator),
    bindCoordinator(describeGroups, coordinator),
    bindCoordinator(listGroups, coordinator),
    bindCoordinator(deleteGroups, coordinator),
  ];
}
