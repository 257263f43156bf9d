// Devices feature: the fleet list with online state and gaps, a device's track and its trips.
// Everything here reads the database (the fix-store and trips groups write it); the list is
// topped up from the live view, which can be a moment ahead of the database or hold devices
// it lacks.
import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../db/store.js';
import type { LiveView } from '../live/live-view.js';
import { listDevices } from './device-list.js';
import { badRequest, notFound } from './errors.js';
import { dayParam, deviceIdParams, isRealDay, parseTime, timeParam } from './params.js';
import { arrayOf, deviceSchema, fixSchema, int, num, objectOf, replies, str } from './schemas.js';

export type DevicesStore = Pick<Store, 'devices' | 'fleet' | 'track' | 'trips' | 'knowsDevice'>;

export interface DevicesOptions {
  store: DevicesStore;
  live: LiveView;
  /** A device is offline when nothing arrived from it for this long. */
  offlineAfterMs: number;
  now: () => number;
}

const DEFAULT_TRACK_SPAN_MS = 24 * 3600_000;
const MAX_TRACK_LIMIT = 100_000;

export const devicesPlugin: FastifyPluginAsync<DevicesOptions> = async (app, opts) => {
  const { store, live, offlineAfterMs, now } = opts;
  // Nothing in the range asked: 200 and empty for a device the service knows (stored or refused
  // fixes, or only the live view so far), 404 for an id it never heard of (a typo, a stale link).
  const mustKnow = async (id: string) => {
    if (live.get(id) === undefined && !(await store.knowsDevice(id))) throw notFound(`no device ${id}`);
  };

  app.get(
    '/api/devices',
    {
      config: { polled: true },
      // Every device: last fix, last seen, online/offline, seq gaps (lost vs still expected);
      // then those whose every fix was refused, and those only the live view knows (device-list.ts).
      schema: { response: replies({ now: int, offlineAfterS: num, devices: arrayOf(deviceSchema) }) },
    },
    async () => {
      const t = now();
      const { stored, refused } = await store.fleet();
      const devices = listDevices(stored, refused, live, { now: t, offlineAfterMs });
      return { now: t, offlineAfterS: offlineAfterMs / 1000, devices };
    },
  );

  app.get(
    '/api/devices/:id/track',
    {
      // Stored fixes of one device in [from, to), ordered by GNSS time.
      schema: {
        params: deviceIdParams,
        querystring: objectOf({
          from: timeParam('the first time wanted (default: 24 hours before to)'),
          to: timeParam('the last time wanted (default: now)'),
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: MAX_TRACK_LIMIT,
            default: 10_000,
            description: `an integer from 1 to ${MAX_TRACK_LIMIT}`,
          },
        }),
        response: replies(
          {
            deviceId: str,
            from: str,
            to: str,
            count: int,
            truncated: { type: 'boolean', description: 'true when limit cut the track short' },
            fixes: arrayOf(fixSchema),
          },
          { badRequest: true, notFound: true },
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { from?: string; to?: string; limit: number };
      const to = q.to === undefined ? now() : parseTime('to', q.to);
      if (typeof to === 'string') throw badRequest(to);
      const from = q.from === undefined ? to - DEFAULT_TRACK_SPAN_MS : parseTime('from', q.from);
      if (typeof from === 'string') throw badRequest(from);
      if (from > to) throw badRequest(`from (${iso(from)}) is after to (${iso(to)})`);
      // One more than asked tells whether the track was cut short.
      const fixes = await store.track(id, from, to, q.limit + 1);
      if (fixes.length === 0) await mustKnow(id);
      const truncated = fixes.length > q.limit;
      if (truncated) fixes.length = q.limit;
      return { deviceId: id, from: iso(from), to: iso(to), count: fixes.length, truncated, fixes };
    },
  );

  app.get(
    '/api/devices/:id/trips',
    {
      // Per-day trip totals of one device (UTC days of GNSS time), oldest first.
      schema: {
        params: deviceIdParams,
        querystring: objectOf({
          from: dayParam('the first day wanted'),
          to: dayParam('the last day wanted'),
        }),
        response: replies(
          {
            deviceId: str,
            days: arrayOf(
              objectOf({
                day: str,
                distanceM: num,
                movingS: num,
                maxSpeedMps: num,
                fixes: int,
                firstTime: int,
                lastTime: int,
              }),
            ),
          },
          { badRequest: true, notFound: true },
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { from?: string; to?: string };
      for (const [name, v] of [
        ['from', q.from],
        ['to', q.to],
      ] as const) {
        if (v !== undefined && !isRealDay(v)) throw badRequest(`${name} ${v} is not a real date`);
      }
      if (q.from && q.to && q.from > q.to) throw badRequest(`from ${q.from} is after to ${q.to}`);
      const days = await store.trips(id, q.from, q.to);
      if (days.length === 0) await mustKnow(id);
      return { deviceId: id, days };
    },
  );
};

const iso = (ms: number) => new Date(ms).toISOString();
