// The contract between the connection layer and one Kafka API implementation.
//
// The connection parses the request header (v1, or v2 for flexible versions: tagged fields after
// the client id), finds the handler by api key, checks the version is in [minVersion, maxVersion]
// and hands the handler a Reader positioned at the first byte of the request body. The handler
// returns the response body only; the connection prepends the response header (correlation id,
// plus empty tagged fields for flexible versions except ApiVersions, which always uses header v0).
//
// A handler that throws ProtocolError (malformed body) gets its connection closed, as Kafka does;
// any other throw is logged and also closes that connection. Other connections are unaffected.
// Handlers on one connection run one at a time, in arrival order (Kafka's per-connection ordering),
// so a handler may await (long poll, fsync) without reordering responses.
import type { Logger } from '../../shared/log.js';
import type { Reader, Writer } from '../protocol/codec.js';
import type { SaslSession } from '../protocol/sasl/session.js';
import type { BrokerContext } from './context.js';

export interface RequestContext {
  readonly broker: BrokerContext;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Unique per TCP connection for this broker process. */
  readonly connectionId: number;
  readonly remoteAddress: string;
  /** Child logger carrying connection id, client id, api and correlation id. */
  readonly log: Logger;
  /** Aborted when the connection closes or the broker stops: long polls should give up. */
  readonly signal: AbortSignal;
  /**
   * This connection's SASL state (authenticated from the start when the listener has no SASL).
   * Set by every connection; optional only so a context built outside one (tests) can omit it.
   */
  readonly sasl?: SaslSession;
  /** Close the connection right after this request's response is written (SASL refusals). */
  closeAfterResponse?(): void;
}

/** Returned by a handler when the protocol says no response is sent (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no-response');

/**
 * A response body: a Writer, a Buffer, or a list of Buffers written back to back (lets Fetch
 * send record bytes read from disk without copying them into one buffer).
 */
export type ApiResponse = Writer | Buffer | Buffer[] | typeof NO_RESPONSE;

export interface ApiHandler {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible (compact encodings + tagged fields) version, if any is supported. */
  readonly flexibleFrom?: number;
  handle(ctx: RequestContext, req: Reader, version: number): Promise<ApiResponse> | ApiResponse;
}

export function isFlexible(h: ApiHandler, version: number): boolean {
  return h.flexibleFrom !== undefined && version >= h.flexibleFrom;
}
