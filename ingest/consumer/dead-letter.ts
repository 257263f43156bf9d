// The dead-letter topic: records that are not fixes are copied there, untouched, with headers
// saying why and where they came from, so nothing is lost and their partition keeps moving.
// At-least-once: after a crash before the offset commit a record can be dead-lettered twice;
// x-original-topic/partition/offset identify duplicates.
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { Fix } from '../../shared/fix.js';
import { encodeFix, type FixIdentity } from '../../shared/fixcodec.js';
import {
  bare,
  bounded,
  bySize,
  type DlqMessage,
  HEADERS_DROPPED,
  headerBytes,
  isTooLarge,
  MAX_PRODUCER_HEADER_BYTES,
} from './dead-letter-size.js';

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
  // Keep the producer's own headers, then ours (ours win on a clash); headers too big to pass
  // are dropped, and said so (dead-letter-size.ts).
  const own = d.message.headers ?? {};
  if (headerBytes(own) <= MAX_PRODUCER_HEADER_BYTES) {
    for (const [k, v] of Object.entries(own)) if (v !== undefined) headers[k] = v;
  } else headers[HEADERS_DROPPED] = `${Object.keys(own).length} headers, ${headerBytes(own)} bytes`;
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
    const messages = records.map((d) => bounded(d.message, deadLetterHeaders(d)));
    for (const chunk of bySize(messages)) await this.sendFitting(chunk);
  }

  /**
   * Sends the chunk. A broker that finds it too large (a DLQ topic whose max.message.bytes is
   * below our request size) gets halves, down to one record, then that record cut to its bare
   * minimum: the partition never stalls on a DLQ limit, only on a DLQ whose limit cannot hold
   * our own headers, which the error then names.
   */
  private async sendFitting(chunk: DlqMessage[]): Promise<void> {
    try {
      await this.producer.send({ topic: this.topic, acks: -1, messages: chunk });
    } catch (e) {
      if (!isTooLarge(e)) throw e;
      if (chunk.length > 1) {
        const mid = chunk.length >> 1;
        await this.sendFitting(chunk.slice(0, mid));
        await this.sendFitting(chunk.slice(mid));
        return;
      }
      const smallest = bare(chunk[0]!);
      if (smallest === chunk[0]) throw e;
      await this.sendFitting([smallest]);
    }
  }
}
