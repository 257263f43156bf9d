// DescribeConfigs (key 32), v0-v4 (v4 flexible): topic configs (override or broker default) and
// the broker's topic defaults under Kafka's broker config names. Each value's source is Kafka's:
// TOPIC_CONFIG for a topic's own, STATIC_BROKER_CONFIG for a broker setting the operator gave,
// DEFAULT_CONFIG for a built-in default (v0 has only is_default: DEFAULT_CONFIG).
import type { OperatorSetting } from '../../config.js';
import type { ApiHandler } from '../../server/api.js';
import type { BrokerContext } from '../../server/context.js';
import { ConfigSource, describeConfig } from '../../storage/topic-config.js';
import { ApiKey } from '../apiKeys.js';
import type { Reader } from '../codec.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

const TOPIC = 2;
const BROKER = 4;

interface Entry {
  name: string;
  value: string;
  source: number;
}

interface Result {
  errorCode: number;
  errorMessage: string | null;
  type: number;
  name: string;
  configs: Entry[];
}

function decode(r: Reader, version: number) {
  const flex = version >= 4;
  const resources = r.arr(flex, (r) => {
    const type = r.int8();
    const name = r.str(flex);
    const keys = r.nullableArr(flex, (r) => r.str(flex));
    r.tags(flex);
    return { type, name, keys };
  });
  if (version >= 1) r.bool(); // include_synonyms
  if (version >= 3) r.bool(); // include_documentation
  r.tags(flex);
  return resources;
}

function encode(results: Result[], version: number): Writer {
  const flex = version >= 4;
  const w = new Writer();
  w.int32(0); // throttle_time_ms
  w.arr(flex, results, (w, res) => {
    w.int16(res.errorCode).nullableStr(flex, res.errorMessage).int8(res.type).str(flex, res.name);
    w.arr(flex, res.configs, (w, c) => {
      w.str(flex, c.name).nullableStr(flex, c.value).bool(false);
      // v0 has is_default where later versions have config_source.
      if (version === 0) w.bool(c.source === ConfigSource.DEFAULT_CONFIG);
      else w.int8(c.source);
      w.bool(false); // is_sensitive
      if (version >= 1) w.arr(flex, [] as number[], () => {}); // synonyms
      if (version >= 3) w.int8(0).nullableStr(flex, null); // config_type, documentation
      w.tags(flex);
    });
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}

function brokerEntries(b: BrokerContext): Entry[] {
  const c = b.config;
  const d = c.topicDefaults;
  // What the operator gave is STATIC_BROKER_CONFIG (Kafka: set in server.properties), even at the
  // built-in value; the rest DEFAULT_CONFIG.
  const e = (name: string, setting: OperatorSetting, value: string | number | boolean): Entry => ({
    name,
    value: String(value),
    source: c.operatorSet.has(setting) ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG,
  });
  return [
    e('log.retention.ms', 'retentionMs', d.retentionMs),
    e('log.retention.bytes', 'retentionBytes', d.retentionBytes),
    e('log.segment.bytes', 'segmentBytes', d.segmentBytes),
    e('message.max.bytes', 'maxMessageBytes', d.maxMessageBytes),
    e('num.partitions', 'defaultPartitions', c.defaultPartitions),
    e('auto.create.topics.enable', 'autoCreateTopics', c.autoCreateTopics),
  ];
}

export const describeConfigs: ApiHandler = {
  apiKey: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  handle(ctx, req, version) {
    const b = ctx.broker;
    const results = decode(req, version).map((res): Result => {
      const out: Result = { errorCode: 0, errorMessage: null, type: res.type, name: res.name, configs: [] };
      let entries: Entry[];
      if (res.type === TOPIC) {
        const t = b.topics.get(res.name);
        if (!t) {
          out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          out.errorMessage = `topic '${res.name}' does not exist`;
          return out;
        }
        entries = describeConfig(b.config, t.meta.configs);
      } else if (res.type === BROKER && (res.name === '' || res.name === String(b.node.nodeId))) {
        entries = brokerEntries(b);
      } else {
        out.errorCode = ErrorCode.INVALID_REQUEST;
        out.errorMessage = `unsupported resource type ${res.type} '${res.name}' (topics and broker ${b.node.nodeId} only)`;
        return out;
      }
      out.configs = res.keys ? entries.filter((e) => res.keys!.includes(e.name)) : entries;
      return out;
    });
    return encode(results, version);
  },
};
