// A wall clock a test can step under a real child process, as NTP steps a Raspberry Pi's clock
// (no RTC: it boots at fake-hwclock's last saved time, then jumps once the network is up).
// libfaketime (Debian package faketime, installed by .ci/run) is preloaded into the child; it
// re-reads the offset file on every clock read (FAKETIME_NO_CACHE), and leaves the monotonic
// clock alone (FAKETIME_DONT_FAKE_MONOTONIC), so only the wall clock jumps, as on a real step.
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/** Debian's multiarch path of the preload library: x86_64-linux-gnu here, aarch64-linux-gnu on a Pi. */
export const LIBFAKETIME = join('/usr/lib', multiarch(), 'faketime/libfaketime.so.1');

function multiarch(): string {
  const dirs = existsSync('/usr/lib') ? readdirSync('/usr/lib') : [];
  return dirs.find((d) => existsSync(join('/usr/lib', d, 'faketime/libfaketime.so.1'))) ?? 'x86_64-linux-gnu';
}

export interface SteppedClock {
  /** Environment for the child: the preload and the offset file. */
  env: NodeJS.ProcessEnv;
  /** Sets the child's wall clock to real time + `offset` (libfaketime syntax: "-30d", "+0", "+2h"). */
  set(offset: string): void;
}

/** Starts at real time + `offset`. Fails, naming the package, when libfaketime is not installed. */
export function steppedClock(t: Test, offset: string): SteppedClock {
  if (!existsSync(LIBFAKETIME))
    throw new Error(`${LIBFAKETIME} is missing: apt-get install faketime (bash .ci/run installs it)`);
  const dir = mkdtempSync(join(tmpdir(), 'faketime-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'offset');
  // Written whole then renamed: a child reading the file mid-write would see no offset at all.
  const set = (o: string) => {
    writeFileSync(`${file}.new`, `${o}\n`);
    renameSync(`${file}.new`, file);
  };
  set(offset);
  return {
    env: {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: file,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    set,
  };
}
