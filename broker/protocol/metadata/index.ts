// Metadata (key 3): this broker is the only node and leads every partition. Unknown topics are
// auto-created when the broker allows it (config autoCreateTopics) and the client asks for it.
import type { ApiHandler, RequestContext } from '../../server/api.js';
import { checkTopicName, type Topic, TopicError } from '../../storage/topics.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeMetadataRequest } from './request.js';
import { encodeMetadataResponse, type MetadataTopic } from './response.js';

function describe(t: Topic, leader: number): MetadataTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    id: t.id,
    partitions: t.partitions.map((_, index) => ({ errorCode: ErrorCode.NONE, index, leader })),
  };
}

function lookup(ctx: RequestContext, name: string, allowCreate: boolean): MetadataTopic {
  const { topics, config, node } = ctx.broker;
  const t = topics.get(name);
  if (t) return describe(t, node.nodeId);
  const bad = checkTopicName(name);
  if (bad) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, id: null, partitions: [] };
  if (allowCreate && config.autoCreateTopics) {
    try {
      const created = topics.create(name, config.defaultPartitions);
      ctx.log.info({ topic: name, partitions: config.defaultPartitions }, 'auto-created topic');
      return describe(created, node.nodeId);
    } catch (e) {
      if (!(e instanceof TopicError)) throw e;
      ctx.log.warn({ topic: name, err: e.message }, 'auto-create failed');
      return { errorCode: e.code, name, id: null, partitions: [] };
    }
  }
  return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, id: null, partitions: [] };
}

export const metadata: ApiHandler = {
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  flexibleFrom: 9,
  handle(ctx, req, version) {
    const request = decodeMetadataRequest(req, version);
    const { topics, node, clusterId } = ctx.broker;
    let result: MetadataTopic[];
    if (request.topics === null) {
      result = topics.list().map((t) => describe(t, node.nodeId));
    } else {
      result = request.topics.map((rt) => {
        if (rt.name !== null) return lookup(ctx, rt.name, request.allowAutoTopicCreation);
        const byId = topics.byId(rt.id);
        return byId
          ? describe(byId, node.nodeId)
          : { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, id: rt.id, partitions: [] };
      });
    }
    return encodeMetadataResponse(
      { brokers: [node], clusterId, controllerId: node.nodeId, topics: result },
      version,
    );
  },
};
