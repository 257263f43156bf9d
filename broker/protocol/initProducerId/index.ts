// InitProducerId (key 22), v0-v4 (v2+ flexible): a fresh producer id (epoch 0) for idempotent
// producers; v3+ clients presenting their current id get the epoch bumped instead.
// Transactions are not supported, so a transactional id is refused.
import { ProducerIdAllocator } from '../../produce-state/producer-ids.js';
import type { ApiHandler } from '../../server/api.js';
import type { BrokerContext } from '../../server/context.js';
import { ApiKey } from '../apiKeys.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

const MAX_EPOCH = 32767;

export function createInitProducerId(broker: BrokerContext): ApiHandler {
  const ids = new ProducerIdAllocator(broker.stateDir('producers'));
  return {
    apiKey: ApiKey.InitProducerId,
    name: 'InitProducerId',
    minVersion: 0,
    maxVersion: 4,
    flexibleFrom: 2,
    handle(ctx, r, version) {
      const flex = version >= 2;
      const transactionalId = r.nullableStr(flex);
      r.int32(); // transaction_timeout_ms
      let pid = -1;
      let epoch = -1;
      if (version >= 3) {
        pid = r.int64n();
        epoch = r.int16();
      }
      r.tags(flex);
      const w = new Writer(32);
      w.int32(0); // throttle_time_ms
      if (transactionalId !== null) {
        ctx.log.warn({ transactionalId }, 'transactional producer refused: transactions not supported');
        w.int16(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED).int64(-1).int16(-1);
      } else if (pid >= 0 && epoch >= 0 && epoch < MAX_EPOCH - 1) {
        w.int16(ErrorCode.NONE)
          .int64(pid)
          .int16(epoch + 1);
      } else {
        const id = ids.allocate();
        ctx.log.debug({ producerId: id }, 'allocated producer id');
        w.int16(ErrorCode.NONE).int64(id).int16(0);
      }
      w.tags(flex);
      return w;
    },
  };
}
