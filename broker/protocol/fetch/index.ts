// Fetch (key 1): whole batches from each requested partition, within partition_max_bytes and
// the request's max_bytes (the first batch is always returned whole so a large batch cannot
// stall a consumer). Only data below the high watermark (fsync'ed, storage/log.ts) is served.
// Long poll: with fewer than min_bytes available, wait until the high watermark of any requested
// partition moves, up to max_wait_ms; a parked fetch is answered in the same event-loop turn as
// the fsync round that made new data readable.
import { setMaxListeners } from 'node:events';
import type { ApiHandler, RequestContext } from '../../server/api.js';
import { ApiKey } from '../apiKeys.js';
import { ErrorCode } from '../errors.js';
import { decodeFetchRequest, type FetchRequest } from './request.js';
import { encodeFetchResponse, type FetchPartitionResponse } from './response.js';

function readAll(ctx: RequestContext, req: FetchRequest) {
  const { topics, config } = ctx.broker;
  // The broker's own cap bounds the memory one fetch can hold, whatever the client asks for.
  let budget = Math.min(req.maxBytes > 0 ? req.maxBytes : Number.MAX_SAFE_INTEGER, config.fetchMaxBytes);
  let total = 0;
  const out = req.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p): FetchPartitionResponse => {
      const log = topics.partition(t.topic, p.partition);
      if (!log) {
        return {
          partition: p.partition,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          highWatermark: -1,
          logStartOffset: -1,
          records: null,
        };
      }
      const res: FetchPartitionResponse = {
        partition: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: log.highWatermark,
        logStartOffset: log.logStartOffset,
        records: null,
      };
      // Once the request budget is spent, later partitions are answered empty (not an error).
      if (budget <= 0 && total > 0) return res;
      const limit = Math.min(p.partitionMaxBytes, budget);
      const r = log.read(p.fetchOffset, Math.max(limit, 0), total === 0);
      if (r.errorCode !== 0) {
        res.errorCode = r.errorCode;
        return res;
      }
      if (r.records) {
        res.records = r.records;
        total += r.records.length;
        budget -= r.records.length;
      }
      return res;
    }),
  }));
  return { out, total };
}

export const fetch: ApiHandler = {
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  async handle(ctx, req, version) {
    const request = decodeFetchRequest(req, version);
    const deadline = Date.now() + Math.max(0, request.maxWaitMs);
    let result = readAll(ctx, request);
    while (
      result.total < request.minBytes &&
      Date.now() < deadline &&
      !ctx.signal.aborted &&
      !hasError(result.out)
    ) {
      await waitForData(ctx, request, deadline - Date.now());
      result = readAll(ctx, request);
    }
    return encodeFetchResponse(result.out, version);
  },
};

function hasError(out: { partitions: FetchPartitionResponse[] }[]): boolean {
  return out.some((t) => t.partitions.some((p) => p.errorCode !== ErrorCode.NONE));
}

/** Wait for new readable data in any requested partition, the timeout, or the connection closing. */
async function waitForData(ctx: RequestContext, req: FetchRequest, ms: number): Promise<void> {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one listener per requested partition
  const onAbort = () => ac.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const waits: Promise<void>[] = [];
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const log = ctx.broker.topics.partition(t.topic, p.partition);
      if (log) waits.push(log.waitForData(ac.signal));
    }
  }
  let timer: NodeJS.Timeout | undefined;
  waits.push(
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  );
  await Promise.race(waits);
  clearTimeout(timer);
  ac.abort(); // release the other waiters
  ctx.signal.removeEventListener('abort', onAbort);
}
