// Starting a worker thread on a module of this repository: the .ts source under tsx (npm run,
// the tests), the .js file when compiled.
//
// A worker does inherit `--import tsx`, but on Node 20 its entry module is resolved before tsx's
// hooks are in place ("Unknown file extension .ts"), so a TypeScript entry is loaded from a
// one-line script that registers tsx first.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` (no extension) beside the module at `callerUrl`, with the caller's own extension. */
export function siblingModule(callerUrl: string, name: string): URL {
  return new URL(`./${name}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

export function startModuleWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const script = `import(${tsx}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(script, { ...options, eval: true });
}

/** An error crosses the thread boundary as its parts; `code` keeps checks such as isDataError() working. */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function toThreadError(e: unknown): ThreadError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const code = (e as { code?: unknown }).code;
  return {
    name: e.name,
    message: e.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
  };
}

export function reviveThreadError(e: ThreadError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}
