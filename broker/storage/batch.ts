// Record batch (magic 2) header: field positions and validation. The broker never decodes
// records: it checks the header and CRC, rewrites baseOffset on append and stores the bytes as
// sent (compressed batches stay compressed).
import { crc32c } from './crc32c.js';

export const BASE_OFFSET = 0;
export const BATCH_LENGTH = 8; // bytes after this field
export const LEADER_EPOCH = 12;
export const MAGIC = 16;
export const CRC = 17;
export const ATTRIBUTES = 21; // CRC covers from here to the end
export const LAST_OFFSET_DELTA = 23;
export const BASE_TIMESTAMP = 27;
export const MAX_TIMESTAMP = 35;
export const PRODUCER_ID = 43;
export const PRODUCER_EPOCH = 51;
export const BASE_SEQUENCE = 53;
export const RECORDS_COUNT = 57;
export const HEADER_SIZE = 61;
/** baseOffset + batchLength: what precedes the length-counted part. */
export const LOG_OVERHEAD = 12;

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

export interface BatchInfo {
  /** Position of the batch in the buffer it was parsed from. */
  position: number;
  /** Total size on the wire/disk, including baseOffset and batchLength. */
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  transactional: boolean;
  control: boolean;
}

export class BatchError extends Error {
  constructor(
    readonly kind: 'corrupt' | 'invalid' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'BatchError';
  }
}

/** Size of the batch at `pos` from its length field, or -1 if fewer than 12 bytes remain. */
export function batchSizeAt(buf: Buffer, pos: number, end = buf.length): number {
  if (pos + LOG_OVERHEAD > end) return -1;
  return LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH);
}

/** Header fields of the batch at `pos`; the caller has checked HEADER_SIZE bytes are there. */
export function readHeader(buf: Buffer, pos: number): BatchInfo {
  const attributes = buf.readInt16BE(pos + ATTRIBUTES);
  return {
    position: pos,
    size: LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH),
    baseOffset: Number(buf.readBigInt64BE(pos + BASE_OFFSET)),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA),
    maxTimestamp: Number(buf.readBigInt64BE(pos + MAX_TIMESTAMP)),
    producerId: Number(buf.readBigInt64BE(pos + PRODUCER_ID)),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE),
    recordCount: buf.readInt32BE(pos + RECORDS_COUNT),
    transactional: (attributes & TRANSACTIONAL) !== 0,
    control: (attributes & CONTROL) !== 0,
  };
}

/**
 * Validate the batch at `pos` (length, magic, CRC-32C, counts) and return its header.
 * Throws BatchError saying what is wrong.
 */
export function validateBatch(buf: Buffer, pos: number, end: number, maxBytes = Infinity): BatchInfo {
  if (pos + HEADER_SIZE > end) {
    throw new BatchError(
      'corrupt',
      `record batch truncated: ${end - pos} bytes, header needs ${HEADER_SIZE}`,
    );
  }
  const size = batchSizeAt(buf, pos, end);
  if (size < HEADER_SIZE) throw new BatchError('corrupt', `record batch length ${size} below header size`);
  if (size > maxBytes) {
    throw new BatchError('too-large', `record batch of ${size} bytes exceeds max.message.bytes ${maxBytes}`);
  }
  if (pos + size > end) {
    throw new BatchError(
      'corrupt',
      `record batch truncated: length says ${size}, ${end - pos} bytes present`,
    );
  }
  const magic = buf.readInt8(pos + MAGIC);
  if (magic !== 2) throw new BatchError('invalid', `record batch magic ${magic}; only magic 2 is supported`);
  const stored = buf.readUInt32BE(pos + CRC);
  const actual = crc32c(buf, pos + ATTRIBUTES, pos + size);
  if (stored !== actual) {
    throw new BatchError('corrupt', `record batch CRC mismatch (stored ${stored}, computed ${actual})`);
  }
  const h = readHeader(buf, pos);
  if (
    h.lastOffsetDelta < 0 ||
    h.recordCount < 0 ||
    (h.recordCount > 0 && h.lastOffsetDelta + 1 < h.recordCount)
  ) {
    throw new BatchError(
      'invalid',
      `record batch counts inconsistent (lastOffsetDelta ${h.lastOffsetDelta}, records ${h.recordCount})`,
    );
  }
  return h;
}
