// Turns one Kafka message into a fix, or into the reason it is not one (for the dead-letter topic).
import type { KafkaMessage } from 'kafkajs';
import type { Fix } from '../../shared/fix.js';
import { decodeFix, FixDecodeError } from '../../shared/fixcodec.js';

export type Decoded = { fix: Fix } | { reason: string };

export function decodeMessage(message: KafkaMessage): Decoded {
  if (!message.value || message.value.length === 0) return { reason: 'empty value (no fix record)' };
  try {
    // decodeFix validates too (shared/fixvalidate.ts), e.g. a NUL in the device id, which
    // PostgreSQL text cannot hold.
    return { fix: decodeFix(message.value) };
  } catch (e) {
    // Anything else the decoder throws is a bug in it; still a bad record for this partition.
    return { reason: e instanceof FixDecodeError ? e.reason : `decoder failed: ${String(e)}` };
  }
}

/** A short, bounded label for the DLQ counter (the full reason goes in the header). */
export function reasonClass(reason: string): string {
  if (reason.startsWith('empty')) return 'empty';
  if (reason.startsWith('version')) return 'version';
  if (reason.startsWith('truncated')) return 'truncated';
  if (reason.startsWith('unknown flag')) return 'flags';
  if (reason.startsWith('decoder failed')) return 'decoder';
  if (reason.includes('trailing bytes')) return 'trailing';
  return 'invalid';
}
