// One connection's SASL state, as Kafka's SaslServerAuthenticator keeps it:
//
//   handshake ──SaslHandshake(mechanism)──▶ authenticating ──tokens──▶ authenticated
//
// SaslHandshake v1 is followed by SaslAuthenticate requests carrying the tokens (kafkajs 2.x,
// librdkafka); v0 by raw size-prefixed tokens without a request header (clients older than
// Kafka 1.0), which the connection hands to `rawToken`. Anything out of order, an unknown
// mechanism or a refused login answers with an error and then the connection is closed (Kafka
// does the same): a client gets one attempt per connection. No re-authentication (KIP-368):
// session_lifetime_ms is 0.
import type { Logger } from '../../../shared/log.js';
import { ErrorCode } from '../errors.js';
import { isSaslMechanism, SaslAuthError, type SaslMechanism, type SaslServer } from './mechanism.js';
import { PlainServer } from './plain.js';
import { ScramServer } from './scram.js';
import type { SaslUsers } from './users.js';

export interface SaslSettings {
  /** Offered in this order in the handshake answer. */
  mechanisms: readonly SaslMechanism[];
  users: SaslUsers;
}

export interface SaslAnswer {
  errorCode: number;
  /** For SaslAuthenticate's error_message: what the client may know. */
  errorMessage: string | null;
  authBytes: Buffer;
  /** Send the answer, then close the connection. */
  close: boolean;
}

/** The client learns no more than this about a refused login; the log says which user and why. */
export const AUTH_FAILED_MESSAGE = 'Authentication failed: invalid username or password';

export class SaslSession {
  private state: 'handshake' | 'authenticating' | 'authenticated';
  private server: SaslServer | undefined;
  private raw = false;

  constructor(
    private readonly settings: SaslSettings | undefined,
    private readonly log: Logger,
  ) {
    this.state = settings ? 'handshake' : 'authenticated';
  }

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  /** After a v0 handshake: the next frame is a bare SASL token, not a request. */
  get expectsRawToken(): boolean {
    return this.raw && this.state === 'authenticating';
  }

  get mechanism(): SaslMechanism | undefined {
    return this.server?.mechanism;
  }

  handshake(
    mechanism: string,
    version: number,
  ): { errorCode: number; mechanisms: readonly string[]; close: boolean } {
    const s = this.settings;
    if (!s || this.state !== 'handshake') {
      this.log.warn(
        { mechanism: mechanism.slice(0, 64), state: s ? this.state : 'disabled' },
        'SaslHandshake out of place; closing connection',
      );
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: s?.mechanisms ?? [], close: true };
    }
    if (!isSaslMechanism(mechanism) || !s.mechanisms.includes(mechanism)) {
      this.log.warn(
        { mechanism: mechanism.slice(0, 64), enabled: s.mechanisms },
        'SASL mechanism not enabled; closing connection',
      );
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: s.mechanisms, close: true };
    }
    const users = s.users;
    this.server =
      mechanism === 'PLAIN'
        ? new PlainServer(
            (u) => users.plain(u),
            (u) => users.decoy(u),
          )
        : new ScramServer(
            mechanism,
            (u) => users.scram(mechanism, u),
            (u) => users.fakeSalt(u),
          );
    this.state = 'authenticating';
    this.raw = version === 0;
    return { errorCode: ErrorCode.NONE, mechanisms: s.mechanisms, close: false };
  }

  /** One SaslAuthenticate request's token. */
  async authenticate(token: Buffer): Promise<SaslAnswer> {
    if (!this.server || this.state !== 'authenticating' || this.raw) {
      this.log.warn(
        { state: this.settings ? this.state : 'disabled', raw: this.raw },
        'SaslAuthenticate out of place; closing connection',
      );
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: this.settings
          ? `SaslAuthenticate not expected in SASL state '${this.state}'`
          : 'SASL is not enabled on this listener',
        authBytes: Buffer.alloc(0),
        close: true,
      };
    }
    return this.step(token);
  }

  /** A bare token after a v0 handshake; null = refused (v0 has no error field: just close). */
  async rawToken(token: Buffer): Promise<Buffer | null> {
    const a = await this.step(token);
    return a.errorCode === ErrorCode.NONE ? a.authBytes : null;
  }

  private async step(token: Buffer): Promise<SaslAnswer> {
    const server = this.server!;
    try {
      const { response, done } = await server.step(token);
      if (done) {
        this.state = 'authenticated';
        this.log.info({ user: server.userName, mechanism: server.mechanism }, 'SASL authenticated');
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: response, close: false };
    } catch (e) {
      if (!(e instanceof SaslAuthError)) throw e;
      // The reason and the claimed user name are logged; the token (password, proof) never is.
      this.log.warn(
        {
          user: server.userName?.slice(0, 255),
          mechanism: server.mechanism,
          reason: e.reason,
          err: e.message,
        },
        'SASL authentication failed; closing connection',
      );
      return {
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage:
          e.reason === 'malformed' || e.reason === 'state'
            ? `Authentication failed: ${e.message}`
            : AUTH_FAILED_MESSAGE,
        authBytes: Buffer.alloc(0),
        close: true,
      };
    }
  }
}

/** The request's connection SASL state; a context from outside a connection has none. */
export function connectionSasl(ctx: { sasl?: SaslSession }): SaslSession {
  if (!ctx.sasl) throw new Error('SASL request outside a connection');
  return ctx.sasl;
}
