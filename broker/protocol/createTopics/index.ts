// CreateTopics (key 19), v0-v7 (v5+ flexible). Partition count (-1 = broker default) and topic
// configs; replication factor must be 1 or -1 (a single node cannot do more).
import type { ApiHandler } from '../../server/api.js';
import { type ConfigSource, describeConfig } from '../../storage/topic-config.js';
import { TopicError } from '../../storage/topics.js';
import { ApiKey } from '../apiKeys.js';
import type { Reader } from '../codec.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

interface TopicRequest {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: number;
  configs: Record<string, string | null>;
}

function decode(r: Reader, version: number) {
  const flex = version >= 5;
  const topics = r.arr(flex, (r): TopicRequest => {
    const name = r.str(flex);
    const numPartitions = r.int32();
    const replicationFactor = r.int16();
    const assignments = r.arr(flex, (r) => {
      r.int32();
      r.arr(flex, (r) => r.int32());
      r.tags(flex);
    }).length;
    const configs: Record<string, string | null> = {};
    for (const c of r.arr(flex, (r) => {
      const n = r.str(flex);
      const v = r.nullableStr(flex);
      r.tags(flex);
      return [n, v] as const;
    }))
      configs[c[0]] = c[1];
    r.tags(flex);
    return { name, numPartitions, replicationFactor, assignments, configs };
  });
  const timeoutMs = r.int32();
  const validateOnly = version >= 1 ? r.bool() : false;
  r.tags(flex);
  return { topics, timeoutMs, validateOnly };
}

interface TopicResult {
  name: string;
  id: string | null;
  errorCode: number;
  errorMessage: string | null;
  numPartitions: number;
  configs: { name: string; value: string; source: ConfigSource }[] | null;
}

function encode(results: TopicResult[], version: number): Writer {
  const flex = version >= 5;
  const w = new Writer();
  if (version >= 2) w.int32(0); // throttle_time_ms
  w.arr(flex, results, (w, t) => {
    w.str(flex, t.name);
    if (version >= 7) w.uuid(t.id);
    w.int16(t.errorCode);
    if (version >= 1) w.nullableStr(flex, t.errorMessage);
    if (version >= 5) {
      w.int32(t.numPartitions).int16(t.errorCode === 0 ? 1 : -1);
      w.nullableArr(flex, t.configs, (w, c) => {
        w.str(flex, c.name).nullableStr(flex, c.value).bool(false);
        w.int8(c.source); // config_source, as DescribeConfigs reports it
        w.bool(false).tags(flex);
      });
    }
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}

export const createTopics: ApiHandler = {
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 5,
  handle(ctx, req, version) {
    const request = decode(req, version);
    const { topics, config } = ctx.broker;
    const results = request.topics.map((t): TopicResult => {
      const result: TopicResult = {
        name: t.name,
        id: null,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: -1,
        configs: null,
      };
      const fail = (code: number, message: string) => {
        result.errorCode = code;
        result.errorMessage = message;
        ctx.log.info({ topic: t.name, code, reason: message }, 'create topic refused');
        return result;
      };
      if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
        return fail(
          ErrorCode.INVALID_REPLICATION_FACTOR,
          `replication factor ${t.replicationFactor} impossible on a single broker (use 1)`,
        );
      }
      const partitions =
        t.assignments > 0
          ? t.assignments
          : t.numPartitions === -1
            ? config.defaultPartitions
            : t.numPartitions;
      try {
        if (request.validateOnly) {
          // Every check a create makes (name, partitions, configs), nothing created: tools ask
          // this to find out whether the create would work.
          const valid = topics.validate(t.name, partitions, t.configs);
          result.numPartitions = partitions;
          result.configs = describeConfig(config, valid);
          return result;
        }
        const created = topics.create(t.name, partitions, t.configs);
        result.id = created.id;
        result.numPartitions = partitions;
        result.configs = describeConfig(config, created.meta.configs);
        return result;
      } catch (e) {
        if (e instanceof TopicError) return fail(e.code, e.message);
        throw e;
      }
    });
    return encode(results, version);
  },
};
