// A Server-Sent Events response on a raw Node response (the route hijacks the fastify reply).
// Heartbeat comments keep proxies and NATs from closing an idle stream; a client that has not
// taken any data for `maxStallMs` is disconnected so a dead peer does not hold memory forever.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monotonicMs } from '../../shared/monotonic.js';
import type { EventOutput } from '../live/subscription.js';

export interface SseOptions {
  heartbeatMs: number;
  maxStallMs: number;
  /** Client reconnect delay suggested in the stream (`retry:`). */
  retryMs?: number;
}

export interface SseStream extends EventOutput {
  onClose(cb: () => void): void;
  end(): void;
}

export function openSse(req: IncomingMessage, res: ServerResponse, opts: SseOptions): SseStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and similar proxies would otherwise buffer the stream and add latency.
    'x-accel-buffering': 'no',
  });
  // Small event writes must go out at once, not wait for Nagle's algorithm.
  req.socket.setNoDelay(true);
  res.write(`retry: ${opts.retryMs ?? 3000}\n\n`);

  // monotonicMs() since the client stopped taking data, or null while it keeps up. Not the wall
  // clock: a step forward (a VM resumed, chrony's makestep) reset a client that had been slow for
  // a moment, and a step back kept a dead one's buffers for the length of the step.
  let stalledSince: number | null = null;
  const closers: Array<() => void> = [];
  const heartbeat = setInterval(() => {
    if (res.writableEnded || res.destroyed) return;
    if (res.writableNeedDrain) {
      // A reset, not a FIN: a FIN would queue behind the unsent data the peer is not reading,
      // keeping the kernel's buffers (and the peer's hope) alive; a reset frees both at once.
      if (stalledSince !== null && monotonicMs() - stalledSince > opts.maxStallMs)
        res.socket?.resetAndDestroy();
      return;
    }
    res.write(': keep-alive\n\n');
  }, opts.heartbeatMs);
  heartbeat.unref();
  // A peer that vanished mid-write must cost one stream, never the process.
  res.on('error', () => res.destroy());
  res.on('close', () => {
    clearInterval(heartbeat);
    for (const cb of closers) cb();
  });

  return {
    write(chunk) {
      // Ended (server closing, share link expired) but 'close' not seen yet: drop, do not throw.
      if (res.writableEnded || res.destroyed) return true;
      const ok = res.write(chunk);
      if (!ok && stalledSince === null) stalledSince = monotonicMs();
      return ok;
    },
    onceDrain(cb) {
      res.once('drain', () => {
        stalledSince = null;
        cb();
      });
    },
    bufferedBytes: () => res.writableLength,
    onClose(cb) {
      closers.push(cb);
    },
    end() {
      res.end();
    },
  };
}
