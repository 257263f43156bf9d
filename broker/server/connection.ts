// One client TCP connection: frames in, requests dispatched one at a time in arrival order,
// responses out in the same order. Anything malformed closes only this connection.
import type { Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { ApiKey } from '../protocol/apiKeys.js';
import { apiRanges, encodeApiVersionsResponse } from '../protocol/apiVersions/index.js';
import { ProtocolError, Reader, Writer } from '../protocol/codec.js';
import { ErrorCode } from '../protocol/errors.js';
import { SaslSession } from '../protocol/sasl/session.js';
import { isFlexible, NO_RESPONSE, type RequestContext } from './api.js';
import type { BrokerContext } from './context.js';
import { FrameDecoder, FrameError, MIN_REQUEST_HEADER } from './framing.js';

/** Stop reading from a client that pipelines more than this many unanswered requests. */
const MAX_QUEUED = 64;

const MAX_FRAME_BEFORE_LOGIN = 512 * 1024;

/** What a client may send before it has logged in on a SASL listener (Kafka's list). */
const BEFORE_AUTH: ReadonlySet<number> = new Set([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private readonly sasl: SaslSession;
  readonly remoteAddress: string;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly broker: BrokerContext,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = broker.log.child({ conn: id, remote: this.remoteAddress });
    this.decoder = new FrameDecoder(broker.config.maxRequestBytes);
    this.sasl = new SaslSession(broker.config.sasl, this.log);
    if (!this.sasl.authenticated) this.limitFramesUntilLogin();
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.finish());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      if (e instanceof FrameError) {
        this.log.warn({ reason: e.message }, 'bad frame; closing connection');
        this.close();
        return;
      }
      throw e;
    }
    for (const f of frames) this.queue.push(f);
    if (this.queue.length >= MAX_QUEUED) this.socket.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const frame = this.queue.shift()!;
        if (this.queue.length < MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
        await this.handle(frame);
      }
    } finally {
      this.busy = false;
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.sasl.expectsRawToken) return this.handleRawSaslToken(frame);
    const r = new Reader(frame);
    let apiKey = -1;
    let correlationId = -1;
    try {
      apiKey = r.int16();
      const apiVersion = r.int16();
      correlationId = r.int32();
      const clientId = r.nullableString(); // header v1 and v2 both use a non-compact client id
      const handler = this.broker.apis.get(apiKey);
      if (!handler) {
        this.log.warn({ apiKey, apiVersion, clientId }, 'unknown API key; closing connection');
        this.close();
        return;
      }
      if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
        if (apiKey === ApiKey.ApiVersions) {
          // The protocol's fallback: a v0 body with UNSUPPORTED_VERSION and our ranges, so the
          // client can retry with a version we speak.
          const body = encodeApiVersionsResponse(
            0,
            ErrorCode.UNSUPPORTED_VERSION,
            apiRanges(this.broker.apis),
          );
          this.send(correlationId, false, [body.toBuffer()]);
          return;
        }
        this.log.warn(
          { api: handler.name, apiVersion, min: handler.minVersion, max: handler.maxVersion, clientId },
          'unsupported API version; closing connection',
        );
        this.close();
        return;
      }
      if (!this.sasl.authenticated && !BEFORE_AUTH.has(apiKey)) {
        // Kafka closes such a connection too; nothing of the request is acted on.
        this.log.warn(
          { api: handler.name, apiVersion, clientId, mechanism: this.sasl.mechanism },
          'request before SASL authentication; closing connection',
        );
        this.close();
        return;
      }
      const flexible = isFlexible(handler, apiVersion);
      if (flexible) r.taggedFields();
      let closeAfter = false;
      const ctx: RequestContext = {
        broker: this.broker,
        apiKey,
        apiVersion,
        correlationId,
        clientId,
        connectionId: this.id,
        remoteAddress: this.remoteAddress,
        log: this.log.child({ api: handler.name, v: apiVersion, corr: correlationId, client: clientId }),
        signal: this.abort.signal,
        sasl: this.sasl,
        closeAfterResponse: () => {
          closeAfter = true;
        },
      };
      const out = await handler.handle(ctx, r, apiVersion);
      if (out !== NO_RESPONSE && !this.closed) {
        const body = out instanceof Writer ? [out.toBuffer()] : Array.isArray(out) ? out : [out];
        await this.send(correlationId, flexible && apiKey !== ApiKey.ApiVersions, body);
      }
      if (closeAfter) this.closeAfterFlush();
      else if (apiKey === ApiKey.SaslAuthenticate && this.sasl.authenticated) {
        this.liftFrameLimits();
      }
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.log.warn(
          { apiKey, correlationId, reason: e.reason, err: e.message },
          'malformed request; closing connection',
        );
      } else {
        this.log.error({ apiKey, correlationId, err: e }, 'request handler failed; closing connection');
      }
      this.close();
    }
  }

  /**
   * After a v0 SaslHandshake the client sends bare SASL tokens (size-prefixed, no request header)
   * and gets bare tokens back; a refused login just closes the connection (v0 has no error field).
   */
  private async handleRawSaslToken(token: Buffer): Promise<void> {
    let reply: Buffer | null;
    try {
      reply = await this.sasl.rawToken(token);
    } catch (err) {
      this.log.error({ err }, 'SASL token handling failed; closing connection');
      this.close();
      return;
    }
    if (this.closed) return;
    if (reply === null) {
      this.closeAfterFlush();
      return;
    }
    const head = Buffer.allocUnsafe(4);
    head.writeInt32BE(reply.length, 0);
    this.socket.write(Buffer.concat([head, reply]));
    if (this.sasl.authenticated) this.liftFrameLimits();
  }

  /**
   * Before login: bare v0 tokens may be shorter than a request header, and nobody unauthenticated
   * gets to make the broker hold a big frame (Kafka's sasl.server.max.receive.size, 512 KiB).
   */
  private limitFramesUntilLogin(): void {
    this.decoder.minFrameBytes = 0;
    this.decoder.maxFrameBytes = Math.min(this.broker.config.maxRequestBytes, MAX_FRAME_BEFORE_LOGIN);
  }

  private liftFrameLimits(): void {
    this.decoder.minFrameBytes = MIN_REQUEST_HEADER;
    this.decoder.maxFrameBytes = this.broker.config.maxRequestBytes;
  }

  private send(correlationId: number, headerTags: boolean, body: Buffer[]): Promise<void> | undefined {
    if (this.closed) return;
    const headerLen = headerTags ? 5 : 4;
    let bodyLen = 0;
    for (const b of body) bodyLen += b.length;
    const head = Buffer.allocUnsafe(4 + headerLen);
    head.writeInt32BE(headerLen + bodyLen, 0);
    head.writeInt32BE(correlationId, 4);
    if (headerTags) head.writeUInt8(0, 8);
    this.socket.cork();
    let ok = this.socket.write(head);
    for (const b of body) ok = this.socket.write(b);
    this.socket.uncork();
    if (ok) return;
    // Slow reader: wait for its buffer to drain before the next response (bounded memory).
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.finish();
  }

  /**
   * Close once what was written has gone out (an error answer the client must still read): FIN
   * after the last byte, then the socket is destroyed, so a client that keeps its side open does
   * not hold the broker's stop.
   */
  private closeAfterFlush(): void {
    if (this.closed) return;
    this.socket.end(() => this.socket.destroy());
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.abort.abort();
    this.onClose(this);
  }
}
