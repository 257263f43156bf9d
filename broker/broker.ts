// startBroker: open the data directory, recover the logs, listen, serve; stop(): close the
// listener and connections, flush and fsync every log, mark the shutdown clean.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { StartError } from '../shared/config.js';
import { createLogger, type Logger } from '../shared/log.js';
import { makeDirs } from '../shared/make-dirs.js';
import { releasePidLock, takePidLock } from '../shared/pid-lock.js';
import { createApiHandlers } from './apis.js';
import { type BrokerOptions, brokerConfig } from './config.js';
import type { ApiHandler } from './server/api.js';
import { Connection } from './server/connection.js';
import type { BrokerContext, BrokerNode } from './server/context.js';
import { fsyncDir, JsonFile } from './storage/json-file.js';
import { TopicManager } from './storage/topics.js';

export type StartOptions = BrokerOptions & { logger?: Logger };

export interface BrokerHandle {
  /** Where this process can reach the listener (the bound port, e.g. after port 0). */
  readonly host: string;
  readonly port: number;
  /** "host:port" for client bootstrap lists. */
  readonly address: string;
  /** What Metadata tells clients (advertisedHost/advertisedPort, else the above). */
  readonly advertised: BrokerNode;
  readonly context: BrokerContext;
  /** Clean shutdown: stop accepting, close connections, fsync and close every segment. */
  stop(): Promise<void>;
}

const CLEAN_MARKER = '.clean-shutdown';
const LOCK = 'broker.lock';

export async function startBroker(opts: StartOptions): Promise<BrokerHandle> {
  const { logger, ...rest } = opts;
  const config = brokerConfig(rest);
  const log = logger ?? createLogger('broker');
  makeDirs(config.dataDir);
  takeLock(config.dataDir);

  const markerPath = join(config.dataDir, CLEAN_MARKER);
  const clean = existsSync(markerPath);
  const meta = new JsonFile<{ clusterId: string }>(join(config.dataDir, 'cluster.json'));
  let clusterId = meta.read()?.clusterId;
  if (!clusterId) {
    clusterId = randomUUID().replaceAll('-', '').slice(0, 22);
    meta.write({ clusterId });
  }

  const topics = new TopicManager(config, log);
  const t0 = Date.now();
  try {
    topics.load(clean);
  } catch (e) {
    releaseLock(config.dataDir);
    throw e;
  }
  // From here on the logs are being written: a crash must trigger full recovery next start.
  rmSync(markerPath, { force: true });
  fsyncDir(config.dataDir);
  log.info(
    { dataDir: config.dataDir, topics: topics.names().length, clean, ms: Date.now() - t0 },
    'logs loaded',
  );

  const stopHooks: (() => void | Promise<void>)[] = [];
  const apis = new Map<number, ApiHandler>();
  const node: { nodeId: number; host: string; port: number } = { nodeId: config.nodeId, host: '', port: 0 };
  const context: BrokerContext = {
    config,
    log,
    node: node as BrokerNode,
    clusterId,
    topics,
    apis,
    stateDir(component: string) {
      const dir = join(config.dataDir, 'state', component);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    onStop(fn) {
      stopHooks.push(fn);
    },
  };
  for (const h of createApiHandlers(context)) {
    if (apis.has(h.apiKey)) throw new Error(`API key ${h.apiKey} (${h.name}) registered twice`);
    apis.set(h.apiKey, h);
  }

  const connections = new Set<Connection>();
  let nextConnId = 1;
  const server: Server = createServer((socket) => {
    const c = new Connection(socket, nextConnId++, context, (done) => connections.delete(done));
    connections.add(c);
  });
  server.on('error', (err) => log.error({ err }, 'listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e) => {
    topics.closeClean();
    releaseLock(config.dataDir);
    throw e;
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : config.port;
  // Listening on every interface: this process (and, unless advertisedHost says otherwise, clients)
  // reach the broker over loopback.
  const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  node.host = config.advertisedHost ?? localHost;
  node.port = config.advertisedPort ?? boundPort;

  const retentionTimer = setInterval(() => {
    try {
      topics.enforceRetention(Date.now());
    } catch (err) {
      log.error({ err }, 'retention pass failed');
    }
  }, config.retentionCheckMs);
  retentionTimer.unref();

  log.info(
    { host: config.host, port: boundPort, advertised: `${node.host}:${node.port}` },
    'broker listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(retentionTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.close();
      await closed;
      for (const fn of stopHooks) {
        try {
          await fn();
        } catch (err) {
          log.error({ err }, 'stop hook failed');
        }
      }
      const flush = { ...topics.flusher.stats, journal: { ...topics.flusher.journal?.stats } };
      topics.closeClean();
      writeFileSync(markerPath, new Date().toISOString());
      fsyncDir(config.dataDir);
      releaseLock(config.dataDir);
      // Group commit figures: produce requests that waited for fsync vs fsync rounds run; the
      // journal's fdatasyncs, checkpoints and the segments those synced.
      log.info({ flush }, 'broker stopped cleanly');
    })();
    return stopping;
  };

  return {
    host: localHost,
    port: boundPort,
    address: `${localHost}:${boundPort}`,
    advertised: node,
    context,
    stop,
  };
}

/** One broker per data directory: a second one would interleave writes into the same segments. */
function takeLock(dataDir: string): void {
  const held = takePidLock(join(dataDir, LOCK));
  if (held) throw new StartError(`data directory ${dataDir} is in use by broker process ${held.heldBy}`);
}

function releaseLock(dataDir: string): void {
  releasePidLock(join(dataDir, LOCK));
}
