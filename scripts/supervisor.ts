// Runs the pipeline's programs as child processes, each with its own log file, and stops them
// in the reverse order of their start (agents before ingest before broker), so that on Ctrl-C
// every producer flushes to a broker that is still there.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface ChildSpec {
  name: string;
  /** A TypeScript entry point of this repository, run with tsx, and its arguments. */
  entry: string;
  args: string[];
  /** Flags for node itself (V8 settings), before the entry point. */
  nodeFlags?: string[];
  env?: Record<string, string | undefined>;
}

interface Running {
  spec: ChildSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class Supervisor {
  private readonly running: Running[] = [];
  private stopping = false;

  constructor(
    private readonly logDir: string,
    private readonly say: (line: string) => void,
    private readonly onUnexpectedExit: (name: string, code: number | null) => void,
  ) {
    mkdirSync(logDir, { recursive: true });
    // Detached children outlive a supervisor that crashes; take them along on any exit.
    process.on('exit', () => {
      for (const r of this.running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    });
  }

  start(spec: ChildSpec): ChildProcess {
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [...(spec.nodeFlags ?? []), '--import', 'tsx', spec.entry, ...spec.args],
      {
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: Ctrl-C in a terminal signals the whole foreground group at once,
        // which would stop the broker while agents still flush. Only the supervisor gets it, and
        // stops the children in order.
        detached: true,
      },
    );
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code, signal) => {
        log.end();
        if (!this.stopping) this.onUnexpectedExit(spec.name, code ?? (signal ? 128 : null));
        resolve(code);
      }),
    );
    this.running.push({ spec, child, exited });
    this.say(`started ${spec.name} (pid ${child.pid}), log: ${join(this.logDir, `${spec.name}.log`)}`);
    return child;
  }

  /** SIGTERM each child, newest first, waiting for each to exit (SIGKILL after `graceMs`). */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const r of [...this.running].reverse()) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      const code = await r.exited;
      clearTimeout(timer);
      this.say(`stopped ${r.spec.name} (exit ${code ?? 'signal'})`);
    }
  }
}

/** Resolves once something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once GET url answers 2xx, or rejects after `timeoutMs` with the last answer seen. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
