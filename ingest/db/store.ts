// The storage interface every ingest consumer group writes through, and ingest-web reads from.
// Two backends implement it with the same behaviour (and pass the same test suite):
// SQLite (embedded default, one file) and PostgreSQL (production, DATABASE_URL).
import type { Fix } from '../../shared/fix.js';
import type { TripDay } from '../trips/accumulate.js';
import type { RejectedSeq } from './rejected.js';

export type { RejectedSeq, TripDay };

/** A run of seqs the cloud never received: `from..to` inclusive. */
export interface SeqGap {
  from: number;
  to: number;
  /** True when the device reported these seqs dropped (seq <= droppedThrough): they will never come. */
  lost: boolean;
  /** True when the cloud received these seqs and refused them (dead-lettered): never stored. */
  rejected: boolean;
}

export interface DeviceSummary {
  deviceId: string;
  /** The fix with the newest GNSS time. */
  lastFix: Fix;
  /** Wall-clock ms when the cloud last stored a fix of this device (ingest time, not GNSS time). */
  lastSeenMs: number;
  /** Highest seq stored. */
  maxSeq: number;
  /** How many distinct seqs are stored. */
  fixCount: number;
  /** Highest droppedThrough the device ever reported (0 when none). */
  droppedThrough: number;
  /** Seqs in 1..maxSeq not stored, split into rejected, lost-for-good and still-expected; oldest first. */
  gaps: SeqGap[];
  /** Number of seqs in `gaps` that are still expected (late, may arrive as backlog). */
  missing: number;
  /** Number of seqs in `gaps` the device dropped for good. */
  lost: number;
  /** Number of seqs in `gaps` the cloud received and refused (dead-lettered). */
  rejected: number;
  /** The device's highest refused seq, why and when; absent when none was refused. */
  lastRejected?: LastRejected;
}

/** A device's highest seq the cloud refused: why (the dead-letter reason) and when. */
export interface LastRejected {
  seq: number;
  reason: string;
  /** Wall-clock ms when the fix-store group recorded the refusal. */
  atMs: number;
}

/**
 * A device the cloud heard from but stored nothing of: every fix it sent was refused (a receiver
 * whose clock is years off, say). Its seqs up to the highest refused are gaps, as for any device.
 */
export interface RefusedDevice {
  deviceId: string;
  /** Nothing stored: 0, 0 and 0 (what the device dropped is in its refused fixes). */
  maxSeq: 0;
  fixCount: 0;
  droppedThrough: 0;
  lastRejected: LastRejected;
  gaps: SeqGap[];
  missing: number;
  lost: number;
  rejected: number;
}

/** Every device the database knows: those with a stored fix, and those known only from refusals. */
export interface Fleet {
  stored: DeviceSummary[];
  refused: RefusedDevice[];
}

/** What a trips transaction did: how many fixes extended the running totals, how many days were rebuilt. */
export interface TripApplyResult {
  /** Fixes that were new in the fixes table (the trips transaction stores them too). */
  inserted: number;
  applied: number;
  /** Fixes already folded in before (redelivery): ignored. */
  skipped: number;
  recomputedDays: number;
  /** Each device whose days were rebuilt, from which UTC day (YYYY-MM-DD), and how many days: for the log. */
  rebuilt: { deviceId: string; fromDay: string; days: number }[];
  /** Stored fixes read back by those rebuilds (the cost that grows with the length of the day). */
  rebuildReads: number;
  /** Rebuilds that continued from a checkpoint instead of 00:00 (ingest/trips/checkpoints.ts). */
  resumedRebuilds: number;
}

/** What applying no fixes did. */
export const noTripWork = (): TripApplyResult => ({
  inserted: 0,
  applied: 0,
  skipped: 0,
  recomputedDays: 0,
  rebuilt: [],
  rebuildReads: 0,
  resumedRebuilds: 0,
});

export interface Store {
  /** 'sqlite' or 'postgres', for logs and metrics labels. */
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema (versioned, recorded in schema_migrations). Safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Stores fixes in ONE transaction; a (deviceId, seq) already stored is skipped, so redelivery
   * never doubles a fix. Resolves after the commit is durable. Returns how many were new.
   */
  writeFixes(fixes: readonly Fix[]): Promise<number>;
  /**
   * Records seqs the cloud refused (dead-lettered), in ONE transaction with their per-device
   * counts; a (deviceId, seq) already recorded is skipped. Returns how many were new.
   */
  writeRejected(rejected: readonly RejectedSeq[]): Promise<number>;
  /** Fixes of a device with fromMs <= time < toMs, ordered by GNSS time, at most `limit`. */
  track(deviceId: string, fromMs: number, toMs: number, limit: number): Promise<Fix[]>;
  /**
   * Applies fixes to the per-device, per-day trip totals in ONE transaction (idempotent, see
   * ingest/trips/README.md for how redelivery and out-of-order backlog are handled).
   */
  applyTrips(fixes: readonly Fix[]): Promise<TripApplyResult>;
  /** Per-day trip rows of a device, days as 'YYYY-MM-DD' (UTC of GNSS time), inclusive bounds, oldest first. */
  trips(deviceId: string, fromDay?: string, toDay?: string): Promise<TripDay[]>;
  /** Every device with its last fix, last seen time and seq gaps: fleet()'s stored half. */
  devices(): Promise<DeviceSummary[]>;
  /** The stored devices, then those with refused seqs and no stored fix, each by device id. */
  fleet(): Promise<Fleet>;
  /** Totals over all devices for the gap gauges: seqs still expected, lost for good, refused. */
  gapTotals(): Promise<{ missing: number; lost: number; rejected: number }>;
  /**
   * True when the database has heard of the device: a fix of it stored, or one refused. The HTTP
   * API tells an unknown device (404) from a known one with nothing in the range asked (200, empty).
   */
  knowsDevice(deviceId: string): Promise<boolean>;
  /** Round trip to the database, for /healthz. Rejects when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** At most this many gap ranges are listed per device (the oldest ones); the counts stay exact. */
export const MAX_GAPS_LISTED = 100;

/** Splits a missing range at droppedThrough into its lost and still-expected parts. */
export function splitGap(from: number, to: number, droppedThrough: number): SeqGap[] {
  if (to <= droppedThrough) return [{ from, to, lost: true, rejected: false }];
  if (from > droppedThrough) return [{ from, to, lost: false, rejected: false }];
  return [
    { from, to: droppedThrough, lost: true, rejected: false },
    { from: droppedThrough + 1, to, lost: false, rejected: false },
  ];
}
