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
import { badRequest } from './errors.js';
import { deviceIdParams } from './params.js';
import { openSse, type SseStream } from './sse.js';

export interface LiveOptions {
  live: LiveView;
  heartbeatMs: number;
  maxStallMs: number;
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

  function stream(req: FastifyRequest, reply: FastifyReply, filter: LiveFilter, what: string): void {
    reply.hijack();
    const out = openSse(req.raw, reply.raw, opts);
    open.add(out);
    const sub = opts.live.subscribe(filter, out);
    req.log.info({ stream: what }, 'live stream opened');
    out.onClose(() => {
      open.delete(out);
      sub.close();
      req.log.info({ stream: what, sent: sub.sent, coalesced: sub.coalesced }, 'live stream closed');
    });
  }

  app.get(
    '/api/devices/:id/live',
    {
      config: { auth: 'query' },
      // SSE stream of one device: its current position at once, then each newer one.
      schema: {
        params: deviceIdParams,
        querystring: { type: 'object', properties: { token: tokenParam } },
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const { id } = req.params as { id: string };
      stream(req, reply, { kind: 'device', deviceId: id }, `device ${id}`);
    },
  );

  app.get(
    '/api/live',
    {
      config: { auth: 'query' },
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
