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

  /** Resolves once the DLQ records are acknowledged by all in-sync replicas. */
  async send(records: DeadRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.ready();
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((d) => ({
        key: d.message.key,
        value: d.message.value,
        headers: deadLetterHeaders(d),
      })),
    });
  }
}
