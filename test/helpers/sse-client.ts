// A minimal Server-Sent Events client over node:http for tests and bench/live.ts: parses the
// stream into events, can stop reading (a slow client) and resume, and waits for a condition.
import http from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  /** Called for each event as it is parsed (before waiters are checked). */
  onEvent?: (e: SseEvent) => void;
  /** Stop reading from the socket (TCP back-pressure reaches the server). */
  pause(): void;
  resume(): void;
  waitFor(pred: (events: SseEvent[]) => boolean, what?: string, timeoutMs?: number): Promise<void>;
  close(): void;
  closed: Promise<void>;
}

/** Opens `url` and resolves once the response headers arrived. keep=false: only onEvent sees events. */
export function openSse(
  url: string,
  headers: Record<string, string> = {},
  opts: { keep?: boolean } = {},
): Promise<SseClient> {
  const keep = opts.keep ?? true;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      const waiters = new Set<() => void>();
      let closedResolve: () => void = () => {};
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        pause: () => res.pause(),
        resume: () => res.resume(),
        waitFor(pred, what = 'condition', timeoutMs = 20_000) {
          if (pred(client.events)) return Promise.resolve();
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`SSE: timed out waiting for ${what} (${client.events.length} events)`));
            }, timeoutMs);
            const check = () => {
              if (!pred(client.events)) return;
              clearTimeout(timer);
              waiters.delete(check);
              ok();
            };
            waiters.add(check);
          });
        },
        close: () => req.destroy(),
        closed: new Promise((r) => {
          closedResolve = r;
        }),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          end = buf.indexOf('\n\n');
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length === 0) continue; // comments (heartbeats) and retry hints
          const e = { event, data: data.join('\n') };
          if (keep) client.events.push(e);
          client.onEvent?.(e);
        }
        for (const w of [...waiters]) w();
      });
      res.on('close', () => closedResolve());
      // A paused response with unread data may never emit 'close': the socket tells the truth.
      res.socket.on('close', () => closedResolve());
      res.on('error', () => closedResolve());
      resolve(client);
    });
    req.on('error', reject);
  });
}
