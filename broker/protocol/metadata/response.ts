// Metadata response v0-v12.
import { Writer } from '../codec.js';

export interface MetadataBroker {
  nodeId: number;
  host: string;
  port: number;
}

export interface MetadataPartition {
  errorCode: number;
  index: number;
  leader: number;
}

export interface MetadataTopic {
  errorCode: number;
  name: string | null;
  id: string | null;
  partitions: MetadataPartition[];
}

export interface MetadataResponse {
  brokers: MetadataBroker[];
  clusterId: string;
  controllerId: number;
  topics: MetadataTopic[];
}

/** Authorized-operations field value meaning "not requested". */
const OPS_OMITTED = -2147483648;

export function encodeMetadataResponse(res: MetadataResponse, version: number): Writer {
  const flex = version >= 9;
  const w = new Writer(256 + res.topics.length * 64);
  if (version >= 3) w.int32(0); // throttle_time_ms
  w.arr(flex, res.brokers, (w, b) => {
    w.int32(b.nodeId).str(flex, b.host).int32(b.port);
    if (version >= 1) w.nullableStr(flex, null); // rack
    w.tags(flex);
  });
  if (version >= 2) w.nullableStr(flex, res.clusterId);
  if (version >= 1) w.int32(res.controllerId);
  w.arr(flex, res.topics, (w, t) => {
    w.int16(t.errorCode);
    if (version >= 12) w.nullableStr(flex, t.name);
    else w.str(flex, t.name ?? '');
    if (version >= 10) w.uuid(t.id);
    if (version >= 1) w.bool(false); // is_internal
    w.arr(flex, t.partitions, (w, p) => {
      w.int16(p.errorCode).int32(p.index).int32(p.leader);
      if (version >= 7) w.int32(0); // leader_epoch
      w.arr(flex, [p.leader], (w, n) => w.int32(n)); // replicas
      w.arr(flex, [p.leader], (w, n) => w.int32(n)); // isr
      if (version >= 5) w.arr(flex, [] as number[], (w, n) => w.int32(n)); // offline
      w.tags(flex);
    });
    if (version >= 8) w.int32(OPS_OMITTED);
    w.tags(flex);
  });
  if (version >= 8 && version <= 10) w.int32(OPS_OMITTED);
  w.tags(flex);
  return w;
}
