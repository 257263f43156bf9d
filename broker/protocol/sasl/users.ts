// The broker's SASL users, from a JSON file (`--sasl-users FILE`):
//
//   { "users": {
//       "agent":  { "password": "..." },
//       "ingest": { "SCRAM-SHA-256": { "salt": "<base64>", "iterations": 4096,
//                                      "storedKey": "<base64>", "serverKey": "<base64>" },
//                   "SCRAM-SHA-512": { ... } } } }
//
// A "password" entry is turned into SCRAM-SHA-256 and -512 credentials at load (random salt) and
// the password is dropped; stored credentials (`npm run broker -- scram-credential`) keep the
// password off the broker's disk altogether. PLAIN logins are checked against the SCRAM
// credential. Errors name the file, the user and the field, never a value.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  deriveScramCredential,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
  type ScramCredential,
  type ScramMechanism,
} from './scram.js';

const SCRAM: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

export class SaslUsers {
  private readonly byName = new Map<string, Partial<Record<ScramMechanism, ScramCredential>>>();
  // Per process: made-up salts for unknown users are stable within a run, unpredictable across runs.
  private readonly fakeKey = randomBytes(32);

  get size(): number {
    return this.byName.size;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  add(name: string, creds: Partial<Record<ScramMechanism, ScramCredential>>): this {
    this.byName.set(name, creds);
    return this;
  }

  /** A user with a password: SCRAM credentials for both hashes (tests, simple setups). */
  addPassword(name: string, password: string, iterations = MIN_ITERATIONS): this {
    return this.add(name, {
      'SCRAM-SHA-256': deriveScramCredential('SCRAM-SHA-256', password, iterations),
      'SCRAM-SHA-512': deriveScramCredential('SCRAM-SHA-512', password, iterations),
    });
  }

  scram(mechanism: ScramMechanism, name: string): ScramCredential | undefined {
    return this.byName.get(name)?.[mechanism];
  }

  /** The credential a PLAIN password is checked against. */
  plain(name: string): { mechanism: ScramMechanism; cred: ScramCredential } | undefined {
    const u = this.byName.get(name);
    for (const mechanism of SCRAM) {
      const cred = u?.[mechanism];
      if (cred) return { mechanism, cred };
    }
    return undefined;
  }

  fakeSalt(name: string): Buffer {
    return createHmac('sha256', this.fakeKey).update(name).digest();
  }

  /** A credential no password matches, costing a PLAIN check as much as a real user's. */
  decoy(name: string): { mechanism: ScramMechanism; cred: ScramCredential } {
    const zero = Buffer.alloc(32);
    return {
      mechanism: 'SCRAM-SHA-256',
      cred: { salt: this.fakeSalt(name), iterations: MIN_ITERATIONS, storedKey: zero, serverKey: zero },
    };
  }
}

/** The JSON form of one stored credential (what `scram-credential` prints). */
export function credentialJson(c: ScramCredential): Record<string, string | number> {
  return {
    salt: c.salt.toString('base64'),
    iterations: c.iterations,
    storedKey: c.storedKey.toString('base64'),
    serverKey: c.serverKey.toString('base64'),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function b64(where: string, v: unknown, bytes?: number): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length === 0) {
    throw new Error(`${where} must be base64`);
  }
  const b = Buffer.from(v, 'base64');
  if (bytes !== undefined && b.length !== bytes) throw new Error(`${where} must be ${bytes} bytes`);
  return b;
}

function parseCredential(where: string, mechanism: ScramMechanism, v: unknown): ScramCredential {
  if (!isObject(v)) throw new Error(`${where} must be an object with salt, iterations, storedKey, serverKey`);
  const it = v['iterations'];
  if (typeof it !== 'number' || !Number.isInteger(it) || it < MIN_ITERATIONS || it > MAX_ITERATIONS) {
    throw new Error(`${where}.iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  const bytes = mechanism === 'SCRAM-SHA-256' ? 32 : 64;
  return {
    salt: b64(`${where}.salt`, v['salt']),
    iterations: it,
    storedKey: b64(`${where}.storedKey`, v['storedKey'], bytes),
    serverKey: b64(`${where}.serverKey`, v['serverKey'], bytes),
  };
}

/** Parse the users document (see the top of this file); `source` names it in errors. */
export function parseSaslUsers(doc: unknown, source: string): SaslUsers {
  if (!isObject(doc) || !isObject(doc['users'])) throw new Error(`${source}: needs {"users": {...}}`);
  const users = new SaslUsers();
  for (const [name, entry] of Object.entries(doc['users'])) {
    const where = `${source}: user '${name}'`;
    if (!name || name.length > 255) throw new Error(`${source}: user names must be 1 to 255 characters`);
    if (!isObject(entry)) throw new Error(`${where} must be an object`);
    const unknown = Object.keys(entry).filter((k) => k !== 'password' && !(SCRAM as string[]).includes(k));
    if (unknown.length > 0) {
      throw new Error(`${where}: unknown field '${unknown[0]}' (allowed: password, ${SCRAM.join(', ')})`);
    }
    const password = entry['password'];
    if (password !== undefined) {
      if (typeof password !== 'string' || password.length === 0) {
        throw new Error(`${where}: password must be a non-empty string`);
      }
      if (SCRAM.some((m) => m in entry))
        throw new Error(`${where}: give a password or credentials, not both`);
      users.addPassword(name, password);
      continue;
    }
    const creds: Partial<Record<ScramMechanism, ScramCredential>> = {};
    for (const m of SCRAM) if (m in entry) creds[m] = parseCredential(`${where}.${m}`, m, entry[m]);
    if (Object.keys(creds).length === 0) throw new Error(`${where} has neither a password nor credentials`);
    users.add(name, creds);
  }
  if (users.size === 0) throw new Error(`${source}: no users`);
  return users;
}

export function loadSaslUsers(path: string): SaslUsers {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text near the error, which may be a password: say less.
    throw new Error(`${path}: not valid JSON`);
  }
  return parseSaslUsers(doc, path);
}
