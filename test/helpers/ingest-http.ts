// The set-up every ingest HTTP test repeats: a webFixture with the server built on it, both
// closed when the test ends; and a logger whose lines the test can read.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import type { ServerDeps } from '../../ingest/http/server.js';
import type { Backend } from './ingest-backends.js';
import { buildServer, type WebFixture, webFixture } from './ingest-web.js';

export interface Served extends WebFixture {
  app: FastifyInstance;
}

/** A server on a fresh store (SQLite unless told); closed, with its store, at the test's end. */
export async function serve(
  t: { teardown(fn: () => unknown): void },
  over: Partial<ServerDeps> = {},
  backend: Backend['name'] = 'sqlite',
): Promise<Served> {
  const f = await webFixture(over, backend);
  const app = await buildServer(f.deps);
  t.teardown(async () => {
    await app.close();
    await f.cleanup();
  });
  return { ...f, app };
}

/** A pino logger at `level` that keeps each line it writes in `lines`. */
export function capturedLog(level: 'debug' | 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
