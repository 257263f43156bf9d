// Which serial device is the GPS, when the configuration does not say.
// /dev/serial/by-id/* names a USB serial device by its vendor, model and serial number and
// survives replugging into another port, so its first entry is the best guess; without one,
// the usual USB-serial (ttyUSB0, e.g. a PL2303 or CP210x) and CDC-ACM (ttyACM0, e.g. u-blox)
// names. Resolved again at each reopen, so a GPS plugged in after start is found.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const BY_ID_DIR = '/dev/serial/by-id';
export const FALLBACK_PATHS = ['/dev/ttyUSB0', '/dev/ttyACM0'] as const;

export function defaultGpsPath(byIdDir = BY_ID_DIR, fallbacks: readonly string[] = FALLBACK_PATHS): string {
  try {
    const first = readdirSync(byIdDir).sort()[0];
    if (first) return path.join(byIdDir, first);
  } catch {
    // No USB serial device at all right now: fall through to the fixed names.
  }
  return fallbacks.find((p) => existsSync(p)) ?? fallbacks[0] ?? '/dev/ttyUSB0';
}
