// What every SASL mechanism's server side looks like to the session: tokens in, tokens out,
// until done. A refused login throws SaslAuthError; its `reason` goes to the broker log, its
// message never contains a password, and the client is only told "invalid credentials"
// (which user exists and why it failed stays on the server).

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export function isSaslMechanism(s: string): s is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(s);
}

export type SaslFailure = 'malformed' | 'unknown-user' | 'bad-password' | 'authzid' | 'state';

export class SaslAuthError extends Error {
  constructor(
    readonly reason: SaslFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SaslAuthError';
  }
}

export interface SaslStep {
  /** Bytes for the client (empty when the mechanism has nothing to say, e.g. PLAIN). */
  response: Buffer;
  /** True once the client is authenticated. */
  done: boolean;
}

export interface SaslServer {
  readonly mechanism: SaslMechanism;
  /** The user the client claimed, once known (for logs). */
  readonly userName: string | undefined;
  step(token: Buffer): Promise<SaslStep>;
}
