// Lowering the CPU priority of the calling thread alone (Linux): setpriority(2) on a thread id
// applies to that thread only, and a thread finds its own id through /proc/thread-self.
//
// Why: a process whose threads do latency work (the live group pushing each fix to the map) and
// throughput work (the store groups writing batches every 250 ms) lets the scheduler favour the
// first when the cores are busy. A niceness of +10 weighs about a tenth of the default in the
// kernel's fair scheduler, so the lowered thread still runs whenever the others wait and keeps
// most of a core under contention; it is not starved, only second.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Unix niceness is at most 19. */
const MAX_NICE = 19;

/**
 * Adds `by` to the calling thread's niceness (relative, so a service already started with Nice=
 * keeps its place). Returns the thread id and its new niceness; throws where threads cannot be
 * told apart (not Linux: /proc/thread-self missing).
 */
export function lowerThreadPriority(by: number): { tid: number; nice: number } {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (!Number.isInteger(tid) || tid <= 0)
    throw new Error('cannot tell this thread id from /proc/thread-self');
  const nice = Math.min(MAX_NICE, getPriority(tid) + by);
  setPriority(tid, nice);
  return { tid, nice };
}
