// Live feature: Server-Sent Events streams of positions from the live view.
//   GET /api/devices/:id/live        one device (the customer watching their rider)
//   GET /api/live?bbox=minLon,minLat,maxLon,maxLat   the fleet, optionally one area
// A new subscriber gets the current position(s) at once, then every newer one. Events:
//   `fix`   data = the fix as JSON plus receivedAt (server ms when the live view took it)
//   `leave` data = the same, for a device that moved out of the bbox (drop its marker)
// Slow clients are coalesced per device (see live/subscription.ts), never buffered unboundedly.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BBOX_PATTERN, inBBox, parseBBox } from '../live/bbox.js';
import type { LiveView } from '../live/live-view.js';
import type { LiveFilter } from '../live/subscription.js';
import { isAuthorized } from './auth.js';
import { badRequest, errorBody } from './errors.js';
import { deviceIdParams } from './params.js';
import { createShareToken } from './share.js';
import { openSse, type SseStream } from './sse.js';

export interface LiveOptions {
  live: LiveView;
  /** The API token: the key share links are signed with. */
  token: string;
  now: () => number;
  heartbeatMs: number;
  maxStallMs: number;
  /** Open streams allowed at once; more get a 503 (a leaked share link must not exhaust us). */
  maxStreams: number;
}

const tokenParam = {
  type: 'string',
  description: 'the API token (for EventSource, which cannot send headers)',
};

export const livePlugin: FastifyPluginAsync<LiveOptions> = async (app, opts) => {
  const open = new Set<SseStream>();
  // Streams never end by themselves; close them so the server can shut down.
  app.addHook('preClose', async () => {
    for (const s of open) s.end();
  });

  function stream(
    req: FastifyRequest,
    reply: FastifyReply,
    filter: LiveFilter,
    what: string,
    endAtMs?: number,
  ): void {
    if (open.size >= opts.maxStreams) {
      reply
        .code(503)
        .header('retry-after', '30')
        .send(errorBody(503, `too many live streams open (${opts.maxStreams}); try again later`));
      return;
    }
    reply.hijack();
    const out = openSse(req.raw, reply.raw, opts);
    open.add(out);
    // A share link's stream ends when the link expires; the client's reconnect is then refused.
    const expiry =
      endAtMs === undefined ? undefined : setTimeout(() => out.end(), Math.max(0, endAtMs - opts.now()));
    const sub = opts.live.subscribe(filter, out);
    req.log.info({ stream: what }, 'live stream opened');
    out.onClose(() => {
      clearTimeout(expiry);
      open.delete(out);
      sub.close();
      req.log.info({ stream: what, sent: sub.sent, coalesced: sub.coalesced }, 'live stream closed');
    });
  }

  app.get(
    '/api/devices/:id/live',
    {
      // The API token, a session, or a share link for this device (POST /api/devices/:id/share).
      config: { auth: 'device-stream' },
      // A HEAD must not open a subscription that nobody reads.
      exposeHeadRoute: false,
      // SSE stream of one device: its current position at once, then each newer one.
      schema: {
        params: deviceIdParams,
        querystring: {
          type: 'object',
          properties: {
            token: tokenParam,
            share: { type: 'string', maxLength: 200, description: 'a share token for this device' },
          },
        },
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const { id } = req.params as { id: string };
      const { share } = req.query as { share?: string };
      // Only a share link limits the stream's life (with the API token or a session it is open-ended).
      const viaShare = share !== undefined && !isAuthorized(req, opts.token, true);
      const endAt = viaShare ? Number(share.split('.')[0]) * 1000 : undefined;
      stream(
        req,
        reply,
        { kind: 'device', deviceId: id },
        viaShare ? `device ${id} (share)` : `device ${id}`,
        endAt,
      );
    },
  );

  app.post(
    '/api/devices/:id/share',
    {
      // A link for a customer: opens this device's live stream only, until it expires.
      // No body at all is the default TTL, as an empty object is (the schema fills ttlS in).
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      },
      schema: {
        params: deviceIdParams,
        body: {
          type: 'object',
          properties: {
            ttlS: {
              type: 'integer',
              minimum: 60,
              maximum: 7 * 86400,
              default: 3600,
              description: 'an integer number of seconds from 60 to 604800',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              deviceId: { type: 'string' },
              share: { type: 'string' },
              expires: { type: 'string' },
              path: { type: 'string' },
            },
          },
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { ttlS } = req.body as { ttlS: number };
      const expires = Math.floor(opts.now() / 1000) + ttlS;
      const share = createShareToken(opts.token, id, expires);
      return {
        deviceId: id,
        share,
        expires: new Date(expires * 1000).toISOString(),
        path: `/api/devices/${encodeURIComponent(id)}/live?share=${encodeURIComponent(share)}`,
      };
    },
  );

  app.get(
    '/api/live',
    {
      config: { auth: 'query' },
      exposeHeadRoute: false,
      schema: {
        description:
          'SSE stream of the fleet (or of the devices inside bbox): current positions, then changes.',
        querystring: {
          type: 'object',
          properties: {
            bbox: {
              type: 'string',
              pattern: BBOX_PATTERN,
              description: 'four numbers minLon,minLat,maxLon,maxLat (e.g. 13.3,52.4,13.5,52.6)',
            },
            token: tokenParam,
          },
        },
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const { bbox } = req.query as { bbox?: string };
      if (bbox === undefined) return stream(req, reply, { kind: 'area', contains: () => true }, 'fleet');
      const box = parseBBox(bbox);
      if (typeof box === 'string') throw badRequest(box);
      stream(req, reply, { kind: 'area', contains: (lon, lat) => inBBox(box, lon, lat) }, `bbox ${bbox}`);
    },
  );
};
