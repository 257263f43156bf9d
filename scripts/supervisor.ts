// Runs the pipeline's programs as child processes, each with its own log file, and stops them
// in the reverse order of their start (agents before ingest before broker), so that on Ctrl-C
// every producer flushes to a broker that is still there.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * The children's LOG_LEVEL: the one given, but never above info. Their log files are for reading
 * afterwards, and `npm start` waits for their own "listening" lines (info): with LOG_LEVEL=warn
 * those never came, and the start failed after 30 s.
 */
function childLogLevel(given: string | undefined): string {
  return given === 'debug' || given === 'trace' ? given : 'info';
}

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
  /** Its last plain line (a start error is one plain line) and last warning-or-worse log line. */
  plain: string;
  logged: string;
}

/**
 * What a child's line of output says, for the terminal: a plain line as it is, a JSON log line of
 * level warn or worse as its msg and error (info lines, started or listening, explain no exit).
 */
export function lastWords(line: string): { plain: boolean; text: string } | null {
  const text = line.trim();
  if (!text) return null;
  if (!text.startsWith('{')) return { plain: true, text };
  try {
    const j = JSON.parse(text) as {
      msg?: unknown;
      err?: { message?: unknown };
      error?: unknown;
      level?: unknown;
    };
    if (typeof j.level === 'number' && j.level < 40) return null;
    const why =
      typeof j.err?.message === 'string' ? j.err.message : typeof j.error === 'string' ? j.error : '';
    const said = [typeof j.msg === 'string' ? j.msg : '', why].filter(Boolean).join(': ');
    return said ? { plain: false, text: said } : null;
  } catch {
    return { plain: true, text };
  }
}

/** A start error's one plain line says it best; else the last warning or error it logged. */
const lastOf = (r: Running) => r.plain || r.logged;

export class Supervisor {
  private readonly running: Running[] = [];
  private stopping = false;

  constructor(
    private readonly logDir: string,
    private readonly say: (line: string) => void,
    private readonly onUnexpectedExit: (name: string, code: number | null, last: string) => void,
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
        env: { ...process.env, LOG_LEVEL: childLogLevel(process.env['LOG_LEVEL']), ...spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: Ctrl-C in a terminal signals the whole foreground group at once,
        // which would stop the broker while agents still flush. Only the supervisor gets it, and
        // stops the children in order.
        detached: true,
      },
    );
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const r = { spec, child, plain: '', logged: '' } as Running;
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          const w = lastWords(line);
          if (w?.plain) r.plain = w.text;
          else if (w) r.logged = w.text;
        }
      });
    }
    r.exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code, signal) => {
        log.end();
        if (!this.stopping) this.onUnexpectedExit(spec.name, code ?? (signal ? 128 : null), lastOf(r));
        resolve(code);
      }),
    );
    this.running.push(r);
    this.say(`started ${spec.name} (pid ${child.pid}), log: ${join(this.logDir, `${spec.name}.log`)}`);
    return child;
  }

  /**
   * Resolves when a line of the child's output matches `pattern`; rejects when the child exits
   * first (with what it said last) or after timeoutMs. A port that answers is not enough to know
   * the child is up: another program may hold it, and this child is about to fail.
   */
  waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
    const r = this.running.find((x) => x.child === child);
    return new Promise<void>((resolve, reject) => {
      const done = (e?: Error) => {
        clearTimeout(timer);
        child.stdout?.off('data', onOut);
        child.stderr?.off('data', onErr);
        child.off('exit', onExit);
        if (e) reject(e);
        else resolve();
      };
      // A line may come in two chunks: each is tested with its stream's unfinished line before it.
      const lineReader = () => {
        let partial = '';
        return (chunk: string | Buffer) => {
          const text = partial + String(chunk);
          partial = text.slice(text.lastIndexOf('\n') + 1);
          if (pattern.test(text)) done();
        };
      };
      const onOut = lineReader();
      const onErr = lineReader();
      const onExit = (code: number | null) => {
        const last = r ? lastOf(r) : '';
        done(
          new Error(
            `${r?.spec.name ?? 'child'} exited (code ${code}) before ${what}${last ? `: ${last}` : ''}`,
          ),
        );
      };
      const timer = setTimeout(() => done(new Error(`no ${what} after ${timeoutMs} ms`)), timeoutMs);
      child.stdout?.on('data', onOut);
      child.stderr?.on('data', onErr);
      child.on('exit', onExit);
    });
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

/**
 * Resolves once GET url answers 2xx, or rejects after `timeoutMs` with the last answer seen, or
 * as soon as `stop` aborts (the server's process exited: waiting on would be for someone else's).
 */
export async function waitForHttp(url: string, timeoutMs: number, stop?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    stop?.throwIfAborted();
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
