// SASL PLAIN, server side (RFC 4616): one message "authzid NUL authcid NUL password". The
// password is checked against the user's stored SCRAM credential (PBKDF2 of the candidate), so
// PLAIN needs no cleartext password on the broker either. PLAIN sends the password itself: use it
// only under TLS outside loopback.
import { SaslAuthError, type SaslServer, type SaslStep } from './mechanism.js';
import { type ScramCredential, type ScramMechanism, scramPasswordMatches } from './scram.js';

interface StoredPassword {
  mechanism: ScramMechanism;
  cred: ScramCredential;
}

export class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN';
  private user = '';
  private used = false;

  constructor(
    private readonly credential: (user: string) => StoredPassword | undefined,
    /** Checked instead for an unknown user, so the answer takes as long as for a known one. */
    private readonly decoy: (user: string) => StoredPassword,
  ) {}

  get userName(): string | undefined {
    return this.user || undefined;
  }

  async step(token: Buffer): Promise<SaslStep> {
    if (this.used) throw new SaslAuthError('state', 'PLAIN exchange already finished');
    this.used = true;
    const parts = token.toString('utf8').split('\0');
    if (parts.length !== 3) throw new SaslAuthError('malformed', 'malformed PLAIN message');
    const [authzid, authcid, password] = parts as [string, string, string];
    if (!authcid) throw new SaslAuthError('malformed', 'PLAIN message without a user name');
    this.user = authcid;
    if (authzid && authzid !== authcid) {
      throw new SaslAuthError('authzid', 'PLAIN authorization id differs from the user');
    }
    const found = this.credential(authcid);
    const check = found ?? this.decoy(authcid);
    const matches = await scramPasswordMatches(check.mechanism, check.cred, password);
    if (!found) throw new SaslAuthError('unknown-user', 'unknown user');
    if (!matches) throw new SaslAuthError('bad-password', 'wrong password');
    return { response: Buffer.alloc(0), done: true };
  }
}
