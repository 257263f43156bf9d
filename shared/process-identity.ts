// Whether the process that wrote a pid somewhere is still the one running under that pid.
// A pid alone is not enough: after a reboot (a power cut on a Pi) or once the kernel has handed the
// number to another process, a live pid says nothing about ours. The boot id tells the first; the
// process's start time (field 22 of /proc/PID/stat, clock ticks since boot) the second, since two
// processes with one pid in one boot cannot have started at the same tick.
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** /proc/sys/kernel/random/boot_id when it was recorded (Linux). */
  bootId?: string | undefined;
  /** Start time in clock ticks since boot (/proc/PID/stat), when it was recorded. */
  startTicks?: number | undefined;
}

export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** This process, to record next to its pid. */
export function ownIdentity(): ProcessIdentity {
  return { pid: process.pid, bootId: bootId(), startTicks: procStat(process.pid)?.startTicks };
}

/**
 * true: that very process is running. false: it is gone (exited, killed, a zombie waiting for its
 * parent, another boot, or the pid now belongs to another process). undefined: cannot tell (no
 * /proc, or an identity recorded without a start time): the caller falls back on what it had.
 */
export function isAlive(id: ProcessIdentity): boolean | undefined {
  if (!(Number.isInteger(id.pid) && id.pid > 0)) return undefined;
  const now = bootId();
  if (id.bootId && now && id.bootId !== now) return false;
  try {
    process.kill(id.pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user (status run by an admin, the agent by its own).
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(id.pid);
  if (!stat) return undefined;
  // kill(pid, 0) succeeds on a zombie: killed, but not yet reaped by its parent.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  if (id.startTicks === undefined) return undefined;
  return stat.startTicks === id.startTicks;
}

function procStat(pid: number): { state: string; startTicks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const startTicks = Number(fields[19]);
  if (!fields[0] || !Number.isSafeInteger(startTicks)) return undefined;
  return { state: fields[0], startTicks };
}
