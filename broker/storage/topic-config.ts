// Per-topic configs (Kafka names) over the broker-wide defaults. Only settings this broker
// honours are accepted; anything else is refused with a message naming it, so a typo does not
// silently fall back to a default.
import type { BrokerConfig, TopicDefaults } from '../config.js';

/** Kafka's ConfigSource ids (DescribeConfigs v1+, CreateTopics v5+), the ones this broker has. */
export const ConfigSource = {
  /** Set on the topic at creation (Kafka: DYNAMIC_TOPIC_CONFIG). */
  TOPIC_CONFIG: 1,
  /** From a broker setting the operator gave (Kafka: in server.properties). */
  STATIC_BROKER_CONFIG: 4,
  /** The built-in default. */
  DEFAULT_CONFIG: 5,
} as const;
export type ConfigSource = (typeof ConfigSource)[keyof typeof ConfigSource];

export class TopicConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopicConfigError';
  }
}

interface KeySpec {
  field?: keyof TopicDefaults;
  min?: number;
  /** Largest accepted value; default Number.MAX_SAFE_INTEGER, or Long.MAX_VALUE with `long`. */
  max?: number;
  /**
   * A Kafka long: anything up to Long.MAX_VALUE is accepted, since tools and people send
   * 9223372036854775807 to mean "forever". It is kept and described as written; the broker acts
   * on min(value, Number.MAX_SAFE_INTEGER) (see effectiveConfig).
   */
  long?: boolean;
  /** Accepted but fixed values (this broker has only one behaviour). */
  only?: string[];
}

/** Kafka's Long.MAX_VALUE, the largest value a long config can have. */
export const LONG_MAX = 2n ** 63n - 1n;

const KEYS: Record<string, KeySpec> = {
  'retention.ms': { field: 'retentionMs', min: -1, long: true },
  'retention.bytes': { field: 'retentionBytes', min: -1, long: true },
  // Index entries hold 32-bit positions, so a segment stays under 2 GiB.
  'segment.bytes': { field: 'segmentBytes', min: 1024, max: 1024 * 1024 * 1024 },
  // A Kafka int: clients read it into 32 bits.
  'max.message.bytes': { field: 'maxMessageBytes', min: 64, max: 2 ** 31 - 1 },
  'cleanup.policy': { only: ['delete'] },
  'message.timestamp.type': { only: ['CreateTime'] },
  'compression.type': { only: ['producer'] },
  'min.insync.replicas': { only: ['1'] },
};

export const TOPIC_CONFIG_KEYS = Object.keys(KEYS);

/** Check a config map; returns it normalised (numbers as decimal strings). */
export function validateTopicConfigs(configs: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(configs)) {
    const spec = KEYS[key];
    if (!spec) {
      throw new TopicConfigError(
        `unsupported topic config '${key}' (supported: ${TOPIC_CONFIG_KEYS.join(', ')})`,
      );
    }
    if (value === null) continue; // null = use the default
    if (spec.only) {
      if (!spec.only.includes(value)) {
        throw new TopicConfigError(
          `topic config ${key}=${value} not supported; allowed: ${spec.only.join(', ')}`,
        );
      }
      out[key] = value;
      continue;
    }
    const min = BigInt(spec.min ?? 0);
    const max = spec.long ? LONG_MAX : BigInt(spec.max ?? Number.MAX_SAFE_INTEGER);
    const n = /^-?\d+$/.test(value) ? BigInt(value) : null;
    if (n === null || n < min || n > max) {
      throw new TopicConfigError(`topic config ${key}=${value} must be an integer from ${min} to ${max}`);
    }
    out[key] = n.toString(); // exact, however large: '007' is '7', nothing is rounded
  }
  return out;
}

/**
 * The settings the broker acts on. A long config beyond Number.MAX_SAFE_INTEGER acts as exactly
 * that: 2^53-1 ms is 285,000 years and 2^53-1 bytes 8 PiB, so retention never removes anything,
 * as Kafka's Long.MAX_VALUE never does; the value is not rounded to a nearby double.
 */
export function effectiveConfig(defaults: TopicDefaults, configs: Record<string, string>): TopicDefaults {
  const out = { ...defaults };
  for (const [key, value] of Object.entries(configs)) {
    const f = KEYS[key]?.field;
    if (!f) continue;
    const exact = /^-?\d+$/.test(value) ? BigInt(value) : null;
    out[f] =
      exact !== null && exact > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }
  return out;
}

/**
 * All config entries as Kafka names with values and where each comes from: the topic's own
 * config, a broker default the operator set, or the built-in default.
 */
export function describeConfig(
  broker: Pick<BrokerConfig, 'topicDefaults' | 'operatorSet'>,
  configs: Record<string, string>,
): { name: string; value: string; source: ConfigSource }[] {
  const eff = effectiveConfig(broker.topicDefaults, configs);
  return TOPIC_CONFIG_KEYS.map((name) => {
    const spec = KEYS[name]!;
    // A topic's own value as it was given (a long config may be more than the broker acts on).
    const value = configs[name] ?? (spec.field ? String(eff[spec.field]) : spec.only![0]!);
    const source =
      configs[name] !== undefined
        ? ConfigSource.TOPIC_CONFIG
        : spec.field && broker.operatorSet.has(spec.field)
          ? ConfigSource.STATIC_BROKER_CONFIG
          : ConfigSource.DEFAULT_CONFIG;
    return { name, value, source };
  });
}
