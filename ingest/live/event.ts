// What a live subscriber is told about one device, and how it looks on the wire (SSE).
import type { Fix } from '../../shared/fix.js';

export interface LiveEvent {
  /** `fix`: the device's newest position. `leave`: it moved out of the subscriber's bbox. */
  type: 'fix' | 'leave';
  fix: Fix;
  /** Server clock (ms) when the live view accepted the fix: lets clients show how fresh it is. */
  receivedAt: number;
  /** The SSE text, made once and shared by every subscriber the event goes to. */
  sse?: string;
}

/** One SSE event. JSON.stringify never emits a raw newline, so the data stays one line. */
export function formatSse(e: LiveEvent): string {
  e.sse ??= `event: ${e.type}\ndata: ${JSON.stringify({ ...e.fix, receivedAt: e.receivedAt })}\n\n`;
  return e.sse;
}
