// Broker settings: where data lives, where to listen, and the broker-wide topic defaults that
// CreateTopics configs and auto-created topics start from.

import type { CoordinatorSettings } from './groups/coordinator.js';
import type { SaslSettings } from './protocol/sasl/session.js';

export interface TopicDefaults {
  /** Keep data at least this long; -1 = forever by time. */
  retentionMs: number;
  /** Keep at most this many bytes per partition (whole segments deleted); -1 = no size limit. */
  retentionBytes: number;
  /** Roll to a new segment file when the active one reaches this size. */
  segmentBytes: number;
  /** Largest record batch accepted. */
  maxMessageBytes: number;
}

export interface BrokerConfig {
  dataDir: string;
  /** Listen address; loopback unless configured otherwise. */
  host: string;
  /** Listen port; 0 = ephemeral (tests). */
  port: number;
  /** What clients are told to connect to; defaults to host/port actually bound. */
  advertisedHost?: string;
  advertisedPort?: number;
  nodeId: number;
  /** Requests larger than this close the connection (Kafka's socket.request.max.bytes). */
  maxRequestBytes: number;
  /** Create a topic when Metadata names an unknown one (dev convenience, like Kafka's default). */
  autoCreateTopics: boolean;
  defaultPartitions: number;
  topicDefaults: TopicDefaults;
  /**
   * Which of the settings DescribeConfigs reports the operator gave (a CLI flag or a startBroker
   * option), even at the built-in value. As Kafka does for what server.properties sets, a value
   * from one of these is described as STATIC_BROKER_CONFIG, the rest as DEFAULT_CONFIG. Derived
   * by brokerConfig from what it was given, never set directly.
   */
  readonly operatorSet: ReadonlySet<OperatorSetting>;
  /** How often retention runs. */
  retentionCheckMs: number;
  /** Bytes between sparse offset/time index entries. */
  indexIntervalBytes: number;
  /** Most record bytes one Fetch response carries, whatever the client asks (Kafka's fetch.max.bytes). */
  fetchMaxBytes: number;
  /** Journal size at which the segments are synced and the journal emptied (storage/journal.ts). */
  journalCheckpointBytes: number;
  /** Consumer group coordinator settings (session bounds, initial rebalance delay); Kafka's defaults if unset. */
  groups?: Partial<CoordinatorSettings>;
  /**
   * SASL on the listener (SASL_PLAINTEXT): every connection must log in with one of these
   * mechanisms before any API but ApiVersions/SaslHandshake/SaslAuthenticate. Unset = no SASL.
   */
  sasl?: SaslSettings;
}

/** Broker settings whose source DescribeConfigs reports (see BrokerConfig.operatorSet). */
export type OperatorSetting = keyof TopicDefaults | 'defaultPartitions' | 'autoCreateTopics';

/** What brokerConfig (and startBroker) take: any setting, and only some topic defaults. */
export type BrokerOptions = Partial<Omit<BrokerConfig, 'topicDefaults' | 'operatorSet'>> & {
  dataDir: string;
  topicDefaults?: Partial<TopicDefaults>;
};

export const DEFAULT_TOPIC_DEFAULTS: TopicDefaults = {
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  segmentBytes: 64 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024 + 12,
};

export function brokerConfig(partial: BrokerOptions): BrokerConfig {
  // A topic default given as undefined is not given: it keeps the built-in value and source.
  const given = Object.fromEntries(
    Object.entries(partial.topicDefaults ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<TopicDefaults>;
  const operatorSet = new Set<OperatorSetting>(Object.keys(given) as (keyof TopicDefaults)[]);
  if (partial.defaultPartitions !== undefined) operatorSet.add('defaultPartitions');
  if (partial.autoCreateTopics !== undefined) operatorSet.add('autoCreateTopics');
  return {
    host: '127.0.0.1',
    port: 9092,
    nodeId: 1,
    // Kafka allows 100 MiB; clients here send far less, and a request is held whole in memory.
    maxRequestBytes: 16 * 1024 * 1024,
    autoCreateTopics: true,
    defaultPartitions: 12,
    retentionCheckMs: 60_000,
    indexIntervalBytes: 4096,
    fetchMaxBytes: 4 * 1024 * 1024,
    journalCheckpointBytes: 16 * 1024 * 1024,
    ...partial,
    topicDefaults: { ...DEFAULT_TOPIC_DEFAULTS, ...given },
    operatorSet,
  };
}
