// How big a dead letter may get, and how it is cut to fit. The bad records come from a topic
// that may allow larger messages than the DLQ does, and we add headers of our own: a DLQ send
// the broker refuses as too large fails the same way every time, and the group would stall on
// that batch for good. So the records are bounded when built, sent in requests well under
// Kafka's default 1 MiB limit, and cut further if the broker still finds them too large.
import type { IHeaders, KafkaMessage } from 'kafkajs';

/** Largest produce request the DLQ sends, well under Kafka's default 1 MiB message size limit. */
export const MAX_REQUEST_BYTES = 256 * 1024;
/** A bad record's value beyond this many bytes is cut (it is no fix: a fix is ~44 bytes). */
export const MAX_VALUE_BYTES = 64 * 1024;
/** A bad record's key beyond this many bytes is cut (a device id is at most 64). */
export const MAX_KEY_BYTES = 4 * 1024;
/** The producer's own headers are dropped when together larger than this. */
export const MAX_PRODUCER_HEADER_BYTES = 64 * 1024;
/** What is left of a value or key in a record the broker still refused: its first bytes. */
const BARE_BYTES = 256;
/** What a record costs in a request besides its key, value and headers (a generous bound). */
const RECORD_OVERHEAD = 64;

export const HEADERS_DROPPED = 'x-dlq-headers-dropped';
const VALUE_CUT = 'x-dlq-value-truncated-from';
const KEY_CUT = 'x-dlq-key-truncated-from';

export type DlqMessage = { key: Buffer | null; value: Buffer | null; headers: IHeaders };

const bytesOf = (v: unknown): number =>
  v === undefined || v === null
    ? 0
    : Buffer.isBuffer(v)
      ? v.length
      : Array.isArray(v)
        ? v.reduce((n: number, x) => n + bytesOf(x), 0)
        : Buffer.byteLength(String(v));

export function headerBytes(headers: IHeaders): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) n += Buffer.byteLength(k) + bytesOf(v) + 8;
  return n;
}

const cut = (b: Buffer | null, max: number, header: string, headers: IHeaders): Buffer | null => {
  if (!b || b.length <= max) return b;
  headers[header] = headers[header] ?? String(b.length);
  return b.subarray(0, max);
};

/** The record as dead-lettered: its value and key cut to their bounds, and said so in a header. */
export function bounded(message: KafkaMessage, headers: IHeaders): DlqMessage {
  const value = cut(message.value, MAX_VALUE_BYTES, VALUE_CUT, headers);
  const key = cut(message.key, MAX_KEY_BYTES, KEY_CUT, headers);
  return { key, value, headers };
}

/**
 * The smallest form of a record the broker refused as too large: our headers only (the
 * producer's are counted in HEADERS_DROPPED), the first BARE_BYTES of its key and value. The
 * same object when there is nothing left to cut.
 */
export function bare(m: DlqMessage): DlqMessage {
  const headers: IHeaders = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(m.headers)) {
    if (k.startsWith('x-dlq-') || k.startsWith('x-original-')) headers[k] = v;
    else dropped.push(k);
  }
  if (dropped.length > 0) headers[HEADERS_DROPPED] = `${dropped.length} headers`;
  const value = cut(m.value, BARE_BYTES, VALUE_CUT, headers);
  const key = cut(m.key, BARE_BYTES, KEY_CUT, headers);
  if (dropped.length === 0 && value === m.value && key === m.key) return m;
  return { key, value, headers };
}

function sizeOf(m: DlqMessage): number {
  return RECORD_OVERHEAD + (m.key?.length ?? 0) + (m.value?.length ?? 0) + headerBytes(m.headers);
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

/** The broker refused the request as too large (kafkajs wraps the protocol error as its cause). */
export function isTooLarge(e: unknown): boolean {
  for (let err = e as { type?: unknown; cause?: unknown } | undefined, depth = 0; err && depth < 5; depth++) {
    if (err.type === 'MESSAGE_TOO_LARGE' || err.type === 'RECORD_LIST_TOO_LARGE') return true;
    err = err.cause as typeof err;
  }
  return false;
}
