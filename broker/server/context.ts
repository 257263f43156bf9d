// What a request handler can reach of the running broker.
import type { Logger } from '../../shared/log.js';
import type { BrokerConfig } from '../config.js';
import type { TopicManager } from '../storage/topics.js';
import type { ApiHandler } from './api.js';

export interface BrokerNode {
  readonly nodeId: number;
  /** Host and port clients are told to connect to (Metadata, FindCoordinator). */
  readonly host: string;
  readonly port: number;
}

export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly log: Logger;
  /** This broker as clients should address it (the single node of the cluster). */
  readonly node: BrokerNode;
  readonly clusterId: string;
  /** Topics, partitions and their logs. */
  readonly topics: TopicManager;
  /** Registered APIs by key (ApiVersions advertises exactly these). */
  readonly apis: ReadonlyMap<number, ApiHandler>;
  /** Directory for a component's own durable files (created on demand), e.g. 'groups'. */
  stateDir(component: string): string;
  /** Run on broker stop, after the listener closes and before logs are flushed and closed. */
  onStop(fn: () => void | Promise<void>): void;
}
