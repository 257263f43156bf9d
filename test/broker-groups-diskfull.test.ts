// The disk refusing writes, for real: the committer runs under `ulimit -f` so appends past the
// limit fail with EFBIG. Refused commits must be reported as retriable errors, nothing refused may
// be visible, the process must not crash, and the log must hold no torn frame afterwards.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { GroupStore } from '../broker/groups/store.js';
import { ErrorCode as E } from '../broker/protocol/errors.js';
import { tempDir } from './helpers/broker-harness.js';

t.test(
  'a full disk: commits refused with COORDINATOR_NOT_AVAILABLE, acked ones intact, no torn tail',
  async (t) => {
    const dir = tempDir(t, 'broker-groups-');
    const helper = join(import.meta.dirname, 'helpers/broker-groups-committer.ts');
    // 16 KiB: room for a couple of hundred commit records, then EFBIG.
    const child = spawn('bash', ['-c', `ulimit -f 16; exec "${process.execPath}" --import tsx "${helper}"`], {
      // No tsx compile cache: its entry for a big module (e.g. coordinator.ts) would exceed the
      // limit and kill the committer (SIGXFSZ) before it installs its handler, the first time
      // after a source change.
      env: { ...process.env, DIR: dir, COMMITS: '400', TSX_DISABLE_CACHE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    t.equal(code, 0, 'the process survived the refused writes');
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { offset?: number; errorCode?: number; done?: boolean; memory?: number });
    const commits = lines.filter((l) => l.offset !== undefined);
    t.equal(commits.length, 400);
    const acked = commits.filter((l) => l.errorCode === E.NONE).map((l) => l.offset!);
    const refused = commits.filter((l) => l.errorCode !== E.NONE);
    t.ok(acked.length > 50 && refused.length > 50, `${acked.length} acknowledged, ${refused.length} refused`);
    t.ok(
      refused.every((l) => l.errorCode === E.COORDINATOR_NOT_AVAILABLE),
      'refusals are retriable for clients',
    );
    const lastAcked = Math.max(...acked);
    t.same(
      acked,
      Array.from({ length: lastAcked }, (_, i) => i + 1),
      'acknowledged up to the limit, then none',
    );
    t.equal(lines.at(-1)?.memory, lastAcked, 'a refused commit never became visible');
    t.ok(statSync(join(dir, 'groups.log')).size <= 16 * 1024);

    const store = await GroupStore.open(dir);
    t.equal(store.recovered, null, 'no torn frame: failed appends were cut back at once');
    t.equal(store.committed('g', 't', 0)?.offset, lastAcked, 'every acknowledged commit is on disk');
    await store.commitOffsets('g', [
      {
        topic: 't',
        partition: 0,
        offset: lastAcked + 1,
        leaderEpoch: -1,
        metadata: null,
        commitTimestamp: 0,
      },
    ]);
    await store.close();
    const again = await GroupStore.open(dir);
    t.equal(again.committed('g', 't', 0)?.offset, lastAcked + 1, 'with space back, commits append cleanly');
    await again.close();
  },
);
