// Response schemas: they document the API and let fastify serialize fast (and drop anything
// a backend adds that the API does not promise).

export const fixSchema = {
  type: 'object',
  required: ['deviceId', 'seq', 'time', 'lat', 'lon', 'mode'],
  properties: {
    deviceId: { type: 'string' },
    seq: { type: 'integer' },
    time: { type: 'integer', description: 'GNSS UTC, ms since 1970' },
    lat: { type: 'number' },
    lon: { type: 'number' },
    alt: { type: 'number' },
    speed: { type: 'number', description: 'm/s' },
    course: { type: 'number' },
    hdop: { type: 'number' },
    sats: { type: 'integer' },
    mode: { type: 'integer' },
    quality: { type: 'integer' },
    droppedThrough: { type: 'integer' },
  },
} as const;

export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const gapSchema = {
  type: 'object',
  properties: { from: { type: 'integer' }, to: { type: 'integer' }, lost: { type: 'boolean' } },
} as const;

export const deviceSchema = {
  type: 'object',
  properties: {
    deviceId: { type: 'string' },
    status: { type: 'string', enum: ['online', 'offline'] },
    lastFix: fixSchema,
    lastSeen: { type: 'string', description: 'ISO time the cloud last received a fix' },
    lastSeenMs: { type: 'integer' },
    /** How far the newest fix trails the time it was received: a device uploading backlog. */
    backlogS: { type: 'number' },
    maxSeq: { type: 'integer' },
    fixCount: { type: 'integer' },
    droppedThrough: { type: 'integer' },
    missing: { type: 'integer', description: 'seqs not received yet (may still arrive)' },
    lost: { type: 'integer', description: 'seqs the device dropped for good' },
    gaps: { type: 'array', items: gapSchema },
  },
} as const;
