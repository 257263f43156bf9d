// The real agent as a child process (`npm run agent -- ...` from sources), its stdout and stderr
// collected; killed at teardown if it is still running.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';

const ROOT = join(import.meta.dirname, '../..');

export function spawnAgent(
  t: Test,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; out: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out };
}

/** The child's exit code, once it has exited (at once if it already has). */
export const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code)),
  );
