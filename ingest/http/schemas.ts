// Response schemas: they document the API and let fastify serialize fast (and drop anything
// a backend adds that the API does not promise). Every object in our JSON is a plain
// `{type: 'object', properties}`, so the routes build them with objectOf/arrayOf rather than
// spelling the wrapper out at each level.

export const int = { type: 'integer' } as const;
export const num = { type: 'number' } as const;
export const str = { type: 'string' } as const;

export const objectOf = <P extends Record<string, unknown>>(properties: P) =>
  ({ type: 'object', properties }) as const;
export const arrayOf = <I>(items: I) => ({ type: 'array', items }) as const;

/** For routes that take no query parameters (unknown ones are dropped by ajv's removeAdditional). */
export const noQuery = objectOf({});

export const fixSchema = {
  ...objectOf({
    deviceId: str,
    seq: int,
    time: { type: 'integer', description: 'GNSS UTC, ms since 1970' },
    lat: num,
    lon: num,
    alt: num,
    speed: { type: 'number', description: 'm/s' },
    course: num,
    hdop: num,
    sats: int,
    mode: int,
    quality: int,
    droppedThrough: int,
  }),
  required: ['deviceId', 'seq', 'time', 'lat', 'lon', 'mode'],
} as const;

export const errorSchema = objectOf({ statusCode: int, error: str, message: str });

/**
 * A route's response schemas: `ok` is the 200 body's properties; routes that check their input
 * beyond the schema (impossible dates, from > to) also document their 400.
 */
export const replies = <P extends Record<string, unknown>>(
  ok: P,
  o: { badRequest?: boolean; notFound?: boolean } = {},
) => ({
  200: objectOf(ok),
  ...(o.badRequest ? { 400: errorSchema } : {}),
  ...(o.notFound ? { 404: errorSchema } : {}),
});

export const gapSchema = objectOf({
  from: int,
  to: int,
  lost: { type: 'boolean', description: 'the device dropped these seqs: they will never come' },
  rejected: {
    type: 'boolean',
    description: 'the cloud received these seqs and refused them (dead-letter topic): never stored',
  },
});

export const deviceSchema = objectOf({
  deviceId: str,
  status: { type: 'string', enum: ['online', 'offline'] },
  lastFix: {
    ...fixSchema,
    description: 'the newest fix by GNSS time; absent when every fix the device sent was refused',
  },
  lastSeen: { type: 'string', description: 'ISO time the cloud last received a fix' },
  lastSeenMs: int,
  /** How far the newest fix trails the time it was received: a device uploading backlog. */
  backlogS: num,
  maxSeq: int,
  fixCount: int,
  droppedThrough: int,
  missing: { type: 'integer', description: 'seqs not received yet (may still arrive)' },
  lost: { type: 'integer', description: 'seqs the device dropped for good' },
  rejected: { type: 'integer', description: 'seqs received and refused (dead-lettered), never stored' },
  lastRejected: {
    ...objectOf({
      seq: int,
      reason: { type: 'string', description: 'why it was refused (the dead-letter reason)' },
      atMs: { type: 'integer', description: 'when the cloud refused it, ms since 1970' },
    }),
    description: 'the highest seq the cloud refused; absent when none was',
  },
  gaps: arrayOf(gapSchema),
  stored: {
    type: 'boolean',
    description: 'false: known only from the live view (not in the database), so no counts or gaps',
  },
});
