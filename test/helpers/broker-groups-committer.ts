// Commits offsets through a real coordinator and store in its own process, so a test can run it
// under a file size limit (ulimit -f) and make the disk refuse writes for real (EFBIG). Prints one
// JSON line per commit, {"offset":n,"errorCode":e}, then {"done":true,"memory":m}.
import { GroupCoordinator } from '../../broker/groups/coordinator.js';
import { GroupStore } from '../../broker/groups/store.js';
import { createLogger } from '../../shared/log.js';

// The kernel signals a write past the limit with SIGXFSZ; ignoring it turns it into EFBIG.
process.on('SIGXFSZ', () => {});
const dir = process.env['DIR'];
if (!dir) throw new Error('DIR must be set');
const total = Number(process.env['COMMITS'] ?? '400');
const c = new GroupCoordinator({
  store: await GroupStore.open(dir),
  log: createLogger('committer', 'silent'),
});
for (let offset = 1; offset <= total; offset++) {
  const [res] = await c.commit({
    groupId: 'g',
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: 't', partitions: [{ partition: 0, offset, leaderEpoch: -1, metadata: null }] }],
  });
  process.stdout.write(`${JSON.stringify({ offset, errorCode: res!.partitions[0]!.errorCode })}\n`);
}
const memory = c.fetch('g', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset;
process.stdout.write(`${JSON.stringify({ done: true, memory })}\n`);
await c.close();
