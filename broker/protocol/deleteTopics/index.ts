// DeleteTopics (key 20), v0-v6 (v4+ flexible; v6 names topics by name or id).
import type { ApiHandler } from '../../server/api.js';
import { TopicError } from '../../storage/topics.js';
import { ApiKey } from '../apiKeys.js';
import type { Reader } from '../codec.js';
import { Writer } from '../codec.js';
import { ErrorCode } from '../errors.js';

function decode(r: Reader, version: number): { name: string | null; id: string | null }[] {
  const flex = version >= 4;
  let topics: { name: string | null; id: string | null }[];
  if (version >= 6) {
    topics = r.compactArray((r) => {
      const name = r.compactNullableString();
      const id = r.uuid();
      r.taggedFields();
      return { name, id };
    });
  } else {
    topics = r.arr(flex, (r) => ({ name: r.str(flex), id: null }));
  }
  r.int32(); // timeout_ms
  r.tags(flex);
  return topics;
}

interface Result {
  name: string | null;
  id: string | null;
  errorCode: number;
  errorMessage: string | null;
}

function encode(results: Result[], version: number): Writer {
  const flex = version >= 4;
  const w = new Writer();
  if (version >= 1) w.int32(0); // throttle_time_ms
  w.arr(flex, results, (w, r) => {
    if (version >= 6) w.compactNullableString(r.name).uuid(r.id);
    else w.str(flex, r.name ?? '');
    w.int16(r.errorCode);
    if (version >= 5) w.nullableStr(flex, r.errorMessage);
    w.tags(flex);
  });
  w.tags(flex);
  return w;
}

export const deleteTopics: ApiHandler = {
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 4,
  handle(ctx, req, version) {
    const { topics } = ctx.broker;
    const results = decode(req, version).map((t): Result => {
      const name = t.name ?? topics.byId(t.id)?.name ?? null;
      if (name === null) {
        return { ...t, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: `no topic with id ${t.id}` };
      }
      try {
        const id = topics.get(name)?.id ?? null;
        topics.delete(name);
        return { name, id, errorCode: ErrorCode.NONE, errorMessage: null };
      } catch (e) {
        if (e instanceof TopicError) return { name, id: t.id, errorCode: e.code, errorMessage: e.message };
        throw e;
      }
    });
    return encode(results, version);
  },
};
