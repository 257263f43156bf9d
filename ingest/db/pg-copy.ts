// The COPY variant of the PostgreSQL batch insert, kept for the measurement in bench/ingest.ts.
// COPY cannot skip rows that already exist, so it loads a staging table first and then moves the
// rows with INSERT ... SELECT ... ON CONFLICT DO NOTHING: two passes over the batch.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Fix } from '../../shared/fix.js';
import { FIX_COLUMNS } from './rows.js';

/** COPY text format: backslash, tab and line breaks escaped, \N for NULL. */
function text(v: string | number | undefined): string {
  if (v === undefined) return '\\N';
  if (typeof v === 'number') return String(v);
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function line(f: Fix, now: number): string {
  return `${[
    text(f.deviceId),
    f.seq,
    f.time,
    f.lat,
    f.lon,
    text(f.alt),
    text(f.speed),
    text(f.course),
    text(f.hdop),
    text(f.sats),
    f.mode,
    text(f.quality),
    text(f.droppedThrough),
    now,
  ].join('\t')}\n`;
}

/** Inserts sorted, de-duplicated fixes through COPY; returns the keys that were new. */
export async function copyFixes(
  c: pg.PoolClient,
  rows: readonly Fix[],
  now: number,
): Promise<{ device_id: string; seq: string }[]> {
  await c.query('CREATE TEMP TABLE IF NOT EXISTS fixes_stage (LIKE fixes) ON COMMIT DELETE ROWS');
  const cols = FIX_COLUMNS.join(', ');
  const stream = c.query(copyFrom(`COPY fixes_stage (${cols}) FROM STDIN`));
  const chunks = function* () {
    let buf = '';
    for (const f of rows) {
      buf += line(f, now);
      if (buf.length > 64 * 1024) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  };
  await pipeline(Readable.from(chunks()), stream);
  const res = await c.query<{ device_id: string; seq: string }>(
    `INSERT INTO fixes (${cols}) SELECT ${cols} FROM fixes_stage ORDER BY device_id, seq
     ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq`,
  );
  return res.rows;
}
