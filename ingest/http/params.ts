// Route parameter schemas and parsers shared by the plugins. Every schema carries a
// `description` in words; the error formatter (errors.ts) puts it into the 400 message so the
// client reads what the value should look like, not an ajv regex.

/** Device id as the fix record allows it (1..64 bytes; checked in characters here). */
export const deviceIdParams = {
  type: 'object',
  required: ['id'],
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'a device id of 1 to 64 characters',
    },
  },
} as const;

/** Milliseconds since 1970, or an ISO 8601 date, or an ISO 8601 date-time with a time zone. */
export const TIME_PATTERN =
  '^(\\d{1,15}|\\d{4}-\\d{2}-\\d{2}|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2}))$';

/** `what`: the value's part in the request, read after "must be" (e.g. "the first time wanted"). */
export const timeParam = (what: string) =>
  ({
    type: 'string',
    pattern: TIME_PATTERN,
    // The hint: an unencoded "+01:00" reaches the server as " 01:00" (a + in a query is a space).
    description: `${what}, in milliseconds since 1970 or ISO 8601 with a time zone, e.g. 2026-11-25T08:00:00Z (a + in a URL is written %2B)`,
  }) as const;

export const dayParam = (what: string) =>
  ({
    type: 'string',
    pattern: '^\\d{4}-\\d{2}-\\d{2}$',
    description: `${what}, a UTC day as YYYY-MM-DD`,
  }) as const;

/** Parses a value that matched TIME_PATTERN; returns ms, or a sentence when the date is impossible. */
export function parseTime(name: string, raw: string): number | string {
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) return `${name} ${JSON.stringify(raw)} is not a real date or time`;
  // Date.parse rolls 2026-02-30 over to March; a date that does not exist is a client mistake.
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(raw);
  if (day && !isRealDay(day[0])) return `${name} ${JSON.stringify(raw)} is not a real date`;
  return ms;
}

export function isRealDay(ymd: string): boolean {
  const d = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === ymd;
}
