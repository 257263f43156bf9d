// SCRAM-SHA-256 / SCRAM-SHA-512, server side (RFC 5802, RFC 7677), as Kafka uses it: no channel
// binding, no extensions we act on. The broker keeps only the derived keys (salt, iterations,
// StoredKey, ServerKey), never a password, so a stolen users file or heap dump cannot log in
// as anyone directly.
//
// Exchange:   client-first  n,,n=user,r=cnonce
//             server-first  r=cnonce+snonce,s=salt,i=iterations
//             client-final  c=biws,r=cnonce+snonce,p=proof
//             server-final  v=server-signature
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SaslAuthError, type SaslServer, type SaslStep } from './mechanism.js';

const pbkdf2Async = promisify(pbkdf2);

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

const HASH: Record<ScramMechanism, { alg: 'sha256' | 'sha512'; bytes: number }> = {
  'SCRAM-SHA-256': { alg: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { alg: 'sha512', bytes: 64 },
};

/** Kafka refuses fewer (and so do we): each login attempt offline costs this many HMACs. */
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;

/** What the broker stores per user and mechanism (Kafka's ScramCredential). */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (alg: string, key: Buffer, data: string | Buffer) => createHmac(alg, key).update(data).digest();
const hash = (alg: string, data: Buffer) => createHash(alg).update(data).digest();

function fromSalted(
  mechanism: ScramMechanism,
  salted: Buffer,
): Pick<ScramCredential, 'storedKey' | 'serverKey'> {
  const { alg } = HASH[mechanism];
  return {
    storedKey: hash(alg, hmac(alg, salted, 'Client Key')),
    serverKey: hmac(alg, salted, 'Server Key'),
  };
}

/** Derive a credential from a password (startup, CLI): synchronous PBKDF2. */
export function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  iterations = MIN_ITERATIONS,
  salt: Buffer = randomBytes(32),
): ScramCredential {
  const { alg, bytes } = HASH[mechanism];
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, bytes, alg);
  return { salt, iterations, ...fromSalted(mechanism, salted) };
}

/** Does `password` match the credential? Asynchronous PBKDF2, so a PLAIN login does not stall other connections. */
export async function scramPasswordMatches(
  mechanism: ScramMechanism,
  cred: ScramCredential,
  password: string,
): Promise<boolean> {
  const { alg, bytes } = HASH[mechanism];
  const salted = await pbkdf2Async(password.normalize('NFKC'), cred.salt, cred.iterations, bytes, alg);
  return timingSafeEqual(fromSalted(mechanism, salted).storedKey, cred.storedKey);
}

/** Parse "k=v,k=v" attributes; values may contain '=' (base64), never ','. */
function attributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    if (part.length < 2 || part[1] !== '=') throw new SaslAuthError('malformed', 'malformed SCRAM attribute'); // not quoted: logged
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** saslname: ',' and '=' arrive escaped as =2C and =3D; any other '=' is malformed (RFC 5802 5.1). */
function unescapeName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new SaslAuthError('malformed', 'malformed SCRAM user name');
  return s.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * Looks users up through `credential`; an unknown user gets a made-up salt (stable per name) and
 * fails only at the proof, so the exchange does not tell who exists (RFC 5802 section 9).
 */
export class ScramServer implements SaslServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private cred: ScramCredential | undefined;
  private gs2Header = '';
  private nonce = '';
  private clientNonce = '';
  private clientFirstBare = '';
  private serverFirst = '';

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly credential: (user: string) => ScramCredential | undefined,
    private readonly fakeSalt: (user: string) => Buffer,
  ) {}

  get userName(): string | undefined {
    return this.user || undefined;
  }

  async step(token: Buffer): Promise<SaslStep> {
    if (this.state === 'first') return this.first(token.toString('utf8'));
    if (this.state === 'final') return this.final(token.toString('utf8'));
    throw new SaslAuthError('state', 'SCRAM exchange already finished');
  }

  private first(msg: string): SaslStep {
    // gs2-header: cbind-flag "," [authzid] ","
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(msg);
    if (!m) throw new SaslAuthError('malformed', 'malformed SCRAM client-first message');
    if (m[1]!.startsWith('p='))
      throw new SaslAuthError('malformed', 'SCRAM channel binding is not supported');
    this.gs2Header = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3]!;
    if (this.clientFirstBare.startsWith('m=')) {
      throw new SaslAuthError('malformed', 'SCRAM mandatory extension not supported');
    }
    const attrs = attributes(this.clientFirstBare);
    const name = attrs.get('n');
    const cnonce = attrs.get('r');
    if (!name || !cnonce || !PRINTABLE_NONCE.test(cnonce)) {
      throw new SaslAuthError('malformed', 'SCRAM client-first needs n= and r=');
    }
    this.user = unescapeName(name);
    const authzid = m[2] ? unescapeName(m[2].slice(2)) : '';
    if (authzid && authzid !== this.user) {
      throw new SaslAuthError('authzid', 'SCRAM authorization id differs from the user');
    }
    this.cred = this.credential(this.user);
    const salt = this.cred?.salt ?? this.fakeSalt(this.user);
    const iterations = this.cred?.iterations ?? MIN_ITERATIONS;
    this.clientNonce = cnonce;
    this.nonce = cnonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.state = 'final';
    return { response: Buffer.from(this.serverFirst), done: false };
  }

  private final(msg: string): SaslStep {
    this.state = 'done';
    const cut = msg.lastIndexOf(',p=');
    if (cut < 0) throw new SaslAuthError('malformed', 'SCRAM client-final has no proof');
    const withoutProof = msg.slice(0, cut);
    const attrs = attributes(withoutProof);
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) {
      throw new SaslAuthError('malformed', 'SCRAM channel binding data does not match');
    }
    // librdkafka (at least up to 2.x) sends its client nonce again in front of the combined nonce;
    // Kafka accepts any nonce that ends with the combined one. We accept exactly those two forms.
    const r = attrs.get('r');
    if (r !== this.nonce && r !== this.clientNonce + this.nonce) {
      throw new SaslAuthError('malformed', 'SCRAM nonce does not match');
    }
    const proof = Buffer.from(msg.slice(cut + 3), 'base64');
    const { alg, bytes } = HASH[this.mechanism];
    if (!this.cred) throw new SaslAuthError('unknown-user', 'unknown user');
    if (proof.length !== bytes) throw new SaslAuthError('bad-password', 'wrong password (proof length)');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(alg, this.cred.storedKey, authMessage);
    const clientKey = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(hash(alg, clientKey), this.cred.storedKey)) {
      throw new SaslAuthError('bad-password', 'wrong password');
    }
    const serverSignature = hmac(alg, this.cred.serverKey, authMessage);
    return { response: Buffer.from(`v=${serverSignature.toString('base64')}`), done: true };
  }
}
