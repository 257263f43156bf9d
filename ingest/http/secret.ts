// Constant-time comparison of secrets: over SHA-256 digests, so neither the content nor the
// length of the expected value leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}
