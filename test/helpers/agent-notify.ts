// A real unix datagram socket standing in for systemd's NOTIFY_SOCKET (see agent-notify-listener.py).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { until } from './agent-kafka.js';

export interface NotifyListener {
  path: string;
  messages: string[];
  waitFor(what: string, pred: (m: string) => boolean, ms?: number): Promise<void>;
}

export async function notifyListener(t: Test): Promise<NotifyListener> {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', [join(import.meta.dirname, 'agent-notify-listener.py'), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: string[] = [];
  let listening = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { listening?: string; message?: string };
    if (m.listening) listening = true;
    if (m.message !== undefined) messages.push(m.message);
  });
  t.teardown(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await until('the notify listener', () => listening, 10_000);
  return {
    path,
    messages,
    waitFor: (what, pred, ms) => until(what, () => messages.some(pred), ms),
  };
}
