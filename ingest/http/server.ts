// The ingest HTTP server: one fastify instance, one plugin per feature (devices, live streams,
// health, metrics, dashboard), bearer-token auth in front of all but /healthz.
//
//   const app = await buildServer(deps);      // tests: app.inject(...)
//   await app.listen({ host, port });         // or startHttpServer(deps, { host, port })

import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { StartError } from '../../shared/config.js';
import type { Logger } from '../../shared/log.js';
import type { LiveView } from '../live/live-view.js';
import { restoreLiveView } from '../live/restore.js';
import { installAuth } from './auth.js';
import { dashboardPlugin } from './dashboard.js';
import { type DevicesStore, devicesPlugin } from './devices.js';
import {
  formatSchemaErrors,
  installErrorHandler,
  refuseNonFiniteNumbers,
  refuseRepeatedQueryParams,
} from './errors.js';
import { answerFrameworkError } from './framework-errors.js';
import { type HealthCheck, healthPlugin } from './health.js';
import { livePlugin } from './live.js';
import { LoginLimiter, type LoginLimitOptions } from './login-limit.js';
import { type MetricsJson, metricsPlugin } from './metrics.js';
import { logRequest } from './request-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a route whose answer repeats what the log already says: its request line goes at debug. */
    quietLog: boolean;
  }
}

export interface ServerDeps {
  /** The bearer token (INGEST_TOKEN). */
  token: string;
  /** Reads for the devices, track and trips routes (ingest/db Store). */
  store: DevicesStore;
  /** The live view the `live` consumer group feeds. */
  live: LiveView;
  /** prom-client registry served at /metrics and summarised for the dashboard. */
  registry: Registry;
  /** Metrics kept elsewhere (the store groups' threads), merged into /metrics and /api/stats. */
  moreMetrics?: readonly (() => Promise<MetricsJson>)[] | undefined;
  /** /healthz checks by name, e.g. { kafka: () => admin.describeCluster(), database: () => store.ping() }. */
  health: Record<string, HealthCheck>;
  /** Logger for requests and errors; false = silent (tests). Default: none. */
  logger?: Logger | false;
  /** A device counts as offline when nothing arrived from it for this long. Default 120 s. */
  offlineAfterMs?: number;
  /** Map tile URL template ({z}/{x}/{y}); absent = the dashboard draws a grid only. */
  tileUrl?: string;
  /** The dead-letter topic's name, shown on the dashboard (from KAFKA_TOPIC); absent = not named. */
  dlqTopic?: string;
  cookieSecure?: boolean;
  /** SSE heartbeat interval (default 15 s) and how long a client may take nothing (default 60 s). */
  sseHeartbeatMs?: number;
  sseMaxStallMs?: number;
  /** Most SSE streams open at once (default 10,000); more are refused with 503. */
  sseMaxStreams?: number;
  healthTimeoutMs?: number;
  /** Failed dashboard logins allowed per client address (login-limit.ts; default 5 a minute). */
  loginLimit?: Partial<LoginLimitOptions>;
  /** Put each device's last stored fix into the live view at start (default true). */
  restoreLive?: boolean;
  now?: () => number;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const offlineAfterMs = deps.offlineAfterMs ?? 120_000;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Fastify's own request log would print the URL, and with it a ?token=; we log our own line.
    logController: new LogController({ disableRequestLogging: true }),
    // Rejected schema values name the field and what it should be (errors.ts).
    ajv: { customOptions: { verbose: true, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => formatSchemaErrors(errors as never, dataVar),
    bodyLimit: 64 * 1024,
    // The router's own errors (a too-long or undecodable path) in our shape, logged (framework-errors.ts).
    frameworkErrors: answerFrameworkError,
  }) as unknown as FastifyInstance; // a pino Logger is a FastifyBaseLogger; the generic just differs
  app.decorateRequest('quietLog', false);

  app.addHook('onResponse', async (req, reply) => {
    const quiet = req.quietLog || (req.routeOptions.config?.polled && reply.statusCode < 400);
    logRequest(req, reply, quiet ? 'debug' : 'info');
  });
  // Positions are personal data: no proxy or browser cache keeps API answers.
  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control'))
      reply.header('cache-control', 'no-store');
  });
  installErrorHandler(app);
  refuseNonFiniteNumbers(app);
  refuseRepeatedQueryParams(app);
  if (deps.restoreLive !== false) await restoreLiveView(deps.live, deps.store, app.log);
  // One limiter for both ways of logging in with the token: POST /login and /?token=.
  const logins = new LoginLimiter(deps.loginLimit, now);
  installAuth(app, deps.token, now, logins);

  await app.register(healthPlugin, { checks: deps.health, timeoutMs: deps.healthTimeoutMs ?? 2000 });
  await app.register(devicesPlugin, { store: deps.store, live: deps.live, offlineAfterMs, now });
  await app.register(livePlugin, {
    live: deps.live,
    token: deps.token,
    now,
    heartbeatMs: deps.sseHeartbeatMs ?? 15_000,
    maxStallMs: deps.sseMaxStallMs ?? 60_000,
    maxStreams: deps.sseMaxStreams ?? 10_000,
  });
  await app.register(metricsPlugin, {
    registry: deps.registry,
    more: deps.moreMetrics,
    live: deps.live,
    now,
  });
  await app.register(dashboardPlugin, {
    token: deps.token,
    offlineAfterMs,
    tileUrl: deps.tileUrl,
    dlqTopic: deps.dlqTopic,
    cookieSecure: deps.cookieSecure ?? false,
    logins,
  });
  return app;
}

/** Builds the server and listens; 127.0.0.1 unless a host is given. Returns the app and its URL. */
export async function startHttpServer(
  deps: ServerDeps,
  listen: { host?: string; port?: number } = {},
): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = await buildServer(deps);
  const host = listen.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: listen.port ?? 0 });
  } catch (e) {
    await app.close().catch(() => undefined);
    // A port in use or an address this machine does not have: no retry fixes it. One line
    // naming the settings, not a stack trace (under a service manager, one per restart).
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new StartError(
        `cannot listen on ${host}:${listen.port ?? 0} (INGEST_HTTP_HOST, INGEST_HTTP_PORT): ${(e as Error).message}`,
        { cause: e },
      );
    }
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (listen.port ?? 0);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${shownHost}:${port}`, port };
}
