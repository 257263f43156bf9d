// Metadata request v0-v12. v0: empty topic list = all topics; v1+: null = all. v4+ says whether
// the client allows auto-creation. v9+ flexible; v10+ topics carry an id and a nullable name.
import type { Reader } from '../codec.js';

export interface MetadataRequest {
  /** null = all topics. */
  topics: { id: string | null; name: string | null }[] | null;
  allowAutoTopicCreation: boolean;
}

export function decodeMetadataRequest(r: Reader, version: number): MetadataRequest {
  const flex = version >= 9;
  let topics = r.nullableArr(flex, (r) => {
    const id = version >= 10 ? r.uuid() : null;
    const name = version >= 10 ? r.nullableStr(flex) : r.str(flex);
    r.tags(flex);
    return { id, name };
  });
  if (version === 0 && topics?.length === 0) topics = null;
  const allowAutoTopicCreation = version >= 4 ? r.bool() : true;
  if (version >= 8 && version <= 10) r.bool(); // include_cluster_authorized_operations
  if (version >= 8) r.bool(); // include_topic_authorized_operations
  r.tags(flex);
  return { topics, allowAutoTopicCreation };
}
