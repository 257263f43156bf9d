// The dead-letter topic: records that are not fixes are copied there, untouched, with headers
// saying why and where they came from, so nothing is lost and their partition keeps moving.
// At-least-once: after a crash before the offset commit a record can be dead-lettered twice;
// x-original-topic/partition/offset identify duplicates.
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { Fix } from '../../shared/fix.js';
import { encodeFix, type FixIdentity } from '../../shared/fixcodec.js';

export const DLQ_REASON_HEADER = 'x-dlq-reason';

export interface DeadRecord {
  topic: string;
  partition: number;
  message: KafkaMessage;
  reason: string;
  group: string;
  /** The device and seq the record was, when it says so readably (decode.ts). */
  identity?: FixIdentity | undefined;
}

export function deadLetterHeaders(d: DeadRecord): IHeaders {
  const headers: IHeaders = {};
  // Keep the producer's own headers, then ours (ours win on a clash).
  for (const [k, v] of Object.entries(d.message.headers ?? {})) if (v !== undefined) headers[k] = v;
  headers[DLQ_REASON_HEADER] = d.reason;
  headers['x-original-topic'] = d.topic;
  headers['x-original-partition'] = String(d.partition);
  headers['x-original-offset'] = d.message.offset;
  headers['x-original-timestamp'] = d.message.timestamp;
  headers['x-dlq-group'] = d.group;
  return headers;
}

export class DeadLetterQueue {
  /**
   * @param ready resolves once the producer is connected (the ingest connects it in the
   *   background, retrying while the broker is away; kafkajs refuses sends before that).
   */
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
    private readonly ready: () => Promise<unknown> = () => Promise.resolve(),
  ) {}

  /**
   * A decoded fix the database refused (a data error no retry can fix). Its original message is
   * gone by then, so the record is the fix re-encoded, keyed by device, with the reason.
   */
  async sendRejectedFix(fix: Fix, reason: string, group: string): Promise<void> {
    let value: Buffer;
    try {
      value = encodeFix(fix);
    } catch {
      value = Buffer.from(JSON.stringify(fix));
    }
    await this.ready();
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: fix.deviceId,
          value,
          headers: {
            [DLQ_REASON_HEADER]: reason,
            'x-dlq-group': group,
            'x-device-id': fix.deviceId,
            'x-seq': String(fix.seq),
          },
        },
      ],
    });
  }

  /**
   * Resolves once the DLQ records are acknowledged by all in-sync replicas. Sent in requests of
   * at most MAX_REQUEST_BYTES, in order: a backlog of bad fixes (an old agent draining 5,000
   * fixes dated by a week rollover) is one Kafka batch here, and as one produce request it was
   * over the broker's message size limit (Kafka's default is 1 MiB), refused for good, and the
   * group crashed on it again and again, never committing.
   */
  async send(records: DeadRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.ready();
    const messages = records.map((d) => deadLetterMessage(d));
    for (const chunk of bySize(messages)) {
      await this.producer.send({ topic: this.topic, acks: -1, messages: chunk });
    }
  }
}

/** Largest produce request the DLQ sends, well under Kafka's default 1 MiB message size limit. */
export const MAX_REQUEST_BYTES = 256 * 1024;
/** A bad record's value beyond this many bytes is cut (it is no fix: a fix is ~44 bytes). */
export const MAX_VALUE_BYTES = 64 * 1024;
/** What a record costs in a request besides its key, value and headers (a generous bound). */
const RECORD_OVERHEAD = 64;

type DlqMessage = { key: Buffer | null; value: Buffer | null; headers: IHeaders };

/**
 * The record as dead-lettered. A value too big to go anywhere with our headers added (a
 * topic configured for larger messages than the DLQ's) keeps its first MAX_VALUE_BYTES and says
 * how long it was, so the DLQ can always take it and the partition keeps moving.
 */
function deadLetterMessage(d: DeadRecord): DlqMessage {
  const headers = deadLetterHeaders(d);
  let value = d.message.value;
  if (value && value.length > MAX_VALUE_BYTES) {
    headers['x-dlq-value-truncated-from'] = String(value.length);
    value = value.subarray(0, MAX_VALUE_BYTES);
  }
  return { key: d.message.key, value, headers };
}

function sizeOf(m: DlqMessage): number {
  let n = RECORD_OVERHEAD + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers))
    n += k.length + (v === undefined ? 0 : String(v).length) + 8;
  return n;
}

/** Consecutive runs of messages whose sizes add up to at most MAX_REQUEST_BYTES (at least one each). */
export function* bySize<M extends DlqMessage>(messages: readonly M[]): Generator<M[]> {
  let chunk: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (chunk.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
