// Turns one Kafka message into a fix, or into the reason it is not one (for the dead-letter topic).
import type { KafkaMessage } from 'kafkajs';
import type { Fix } from '../../shared/fix.js';
import { decodeFix, FixDecodeError, type FixIdentity } from '../../shared/fixcodec.js';

/**
 * A fix, or why the record is not one; `identity` names the device and seq it was refused for,
 * when the record says so readably (a readable fix with a bad value or a date out of bounds).
 */
export type Decoded = { fix: Fix } | { reason: string; identity?: FixIdentity };

const identity = (fix: Fix): FixIdentity => ({ deviceId: fix.deviceId, seq: fix.seq });

/**
 * How far a fix's GNSS time may be ahead of this process's clock. GNSS time is the true time and
 * servers keep theirs by NTP, so a fix from the future is a receiver's date error (a garbage RMC
 * date: 2079, 2100). Let through, it would pin its device: the live view keeps the newest by GNSS
 * time, so every real fix after it would be older and never shown, and the trips group would take
 * every later fix as a late one. An hour leaves room for a server clock that is somewhat behind.
 */
export const MAX_AHEAD_MS = 3600_000;

/**
 * How far a fix's GNSS time may be behind this process's clock: ten years. A receiver that lost
 * track of the GPS week (1024 weeks, 19.6 years, a 10-bit week count rolling over) dates its fixes
 * that far back; the agent corrects it at the source (its epoch assembler's notBefore), but an
 * older agent or a replayed capture does not. Let through, such a fix makes a day row decades old
 * and the trips group rebuilds the device's whole history from it. No outbox holds fixes anywhere
 * near this old (a week at 1 Hz by default), so nothing real is refused.
 */
export const MAX_BEHIND_MS = 3650 * 86_400_000;

/** `now`: this process's clock (Date.now()), to refuse fixes from the future or decades past. */
export function decodeMessage(message: KafkaMessage, now: number): Decoded {
  if (!message.value || message.value.length === 0) return { reason: 'empty value (no fix record)' };
  try {
    // decodeFix validates too (shared/fixvalidate.ts), e.g. a NUL in the device id, which
    // PostgreSQL text cannot hold.
    const fix = decodeFix(message.value);
    if (fix.time > now + MAX_AHEAD_MS) {
      const hours = ((fix.time - now) / 3600_000).toFixed(1);
      return {
        reason: `future time ${new Date(fix.time).toISOString()}: ${hours} h ahead of this ingest's clock (at most 1 h), a receiver date error (device ${fix.deviceId}, seq ${fix.seq})`,
        identity: identity(fix),
      };
    }
    if (fix.time < now - MAX_BEHIND_MS) {
      const years = ((now - fix.time) / (365.25 * 86_400_000)).toFixed(1);
      return {
        reason: `past time ${new Date(fix.time).toISOString()}: ${years} years behind this ingest's clock (at most 10), a receiver date error such as a GPS week rollover (device ${fix.deviceId}, seq ${fix.seq})`,
        identity: identity(fix),
      };
    }
    return { fix };
  } catch (e) {
    // Anything else the decoder throws is a bug in it; still a bad record for this partition.
    if (!(e instanceof FixDecodeError)) return { reason: `decoder failed: ${String(e)}` };
    return e.identity ? { reason: e.reason, identity: e.identity } : { reason: e.reason };
  }
}

/** A short, bounded label for the DLQ counter (the full reason goes in the header). */
export function reasonClass(reason: string): string {
  if (reason.startsWith('empty')) return 'empty';
  if (reason.startsWith('version')) return 'version';
  if (reason.startsWith('truncated')) return 'truncated';
  if (reason.startsWith('unknown flag')) return 'flags';
  if (reason.startsWith('decoder failed')) return 'decoder';
  if (reason.startsWith('future time')) return 'future';
  if (reason.startsWith('past time')) return 'past';
  if (reason.includes('trailing bytes')) return 'trailing';
  return 'invalid';
}
