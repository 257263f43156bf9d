// The one-process-per-directory lock (broker data, npm start data, agent outbox): refused while
// a live node process holds it; taken over when the holder is gone, is not node (a pid reused),
// or ran before the last boot (a power cut). A Pi must never refuse to start its agent for good
// because of a lock file left behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { releasePidLock, takePidLock } from '../shared/pid-lock.js';

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

t.test('held by a live node process, taken over otherwise', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pid-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lock = join(dir, 'x.lock');
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
    other.kill('SIGKILL');
  });
  await new Promise((r) => setTimeout(r, 300)); // exec'ed: /proc shows their command lines

  t.equal(takePidLock(lock), undefined, 'free: taken');
  t.equal(readFileSync(lock, 'utf8'), `${process.pid}\n${bootId}\n`, 'pid and boot id recorded');
  t.equal(takePidLock(lock), undefined, 'our own lock: taken again');

  writeFileSync(lock, `${holder.pid}\n${bootId}\n`);
  t.same(takePidLock(lock), { heldBy: holder.pid }, 'a live node process holds it');
  writeFileSync(lock, `${holder.pid}\n`);
  t.same(takePidLock(lock), { heldBy: holder.pid }, 'an older lock with only a pid too');

  writeFileSync(lock, `${holder.pid}\nsome-earlier-boot\n`);
  t.equal(takePidLock(lock), undefined, 'from an earlier boot: stale, whoever has that pid now');
  writeFileSync(lock, `${other.pid}\n${bootId}\n`);
  t.equal(takePidLock(lock), undefined, 'a pid reused by a process that is not node: stale');

  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  writeFileSync(lock, `${holder.pid}\n${bootId}\n`);
  t.equal(takePidLock(lock), undefined, 'the holder is gone (kill -9): stale');
  releasePidLock(lock);
  t.throws(() => readFileSync(lock), /ENOENT/, 'released');
});
