// Produce (key 0): validate and append each partition's batch; acks=-1 waits for the group
// fsync, acks=1 answers once the batch is in the log, acks=0 sends no response at all.
import type { ApiHandler } from '../../server/api.js';
import { NO_RESPONSE } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeProduceRequest } from './request.js';
import { encodeProduceResponse, type ProducePartitionResponse } from './response.js';

export const produce: ApiHandler = {
  apiKey: ApiKey.Produce,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 9,
  flexibleFrom: 9,
  async handle(ctx, req, version) {
    const request = decodeProduceRequest(req, version);
    const { topics } = ctx.broker;
    const badAcks = request.acks !== 0 && request.acks !== 1 && request.acks !== -1;
    const appended: ProducePartitionResponse[] = [];
    const results = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): ProducePartitionResponse => {
        const r: ProducePartitionResponse = {
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: -1,
          logAppendTimeMs: -1,
          logStartOffset: -1,
          errorMessage: null,
        };
        const fail = (code: number, message: string) => {
          r.errorCode = code;
          r.errorMessage = message;
          ctx.log.warn({ topic: t.name, partition: p.index, code, reason: message }, 'produce rejected');
          return r;
        };
        if (badAcks)
          return fail(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${request.acks}`);
        if (request.transactionalId !== null) {
          return fail(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported');
        }
        const log = topics.partition(t.name, p.index);
        if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${t.name}/${p.index}`);
        if (!p.records || p.records.length === 0) return fail(ErrorCode.INVALID_RECORD, 'empty record set');
        const res = log.append(p.records);
        r.logStartOffset = log.logStartOffset;
        if (res.errorCode !== 0) return fail(res.errorCode, 'message' in res ? res.message : 'append failed');
        if ('baseOffset' in res) {
          r.baseOffset = res.baseOffset;
          r.logAppendTimeMs = res.logAppendTime;
          if (res.duplicate) ctx.log.debug({ topic: t.name, partition: p.index }, 'duplicate batch acked');
        }
        appended.push(r);
        return r;
      }),
    }));
    if (request.acks === 0) return NO_RESPONSE;
    if (request.acks === -1 && appended.length > 0) {
      try {
        await topics.flusher.flush();
      } catch (err) {
        ctx.log.error({ err }, 'fsync failed; produce not acknowledged');
        for (const r of appended) {
          r.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
          r.baseOffset = -1;
          r.errorMessage = 'fsync failed';
        }
      }
    }
    return encodeProduceResponse(results, version);
  },
};
