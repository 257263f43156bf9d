// Command-line options of `npm run broker`, parsed into StartOptions with one-line errors.
import { ALSO_READ_HELP, UsageError } from '../shared/config.js';
import type { StartOptions } from './broker.js';
import { isSaslMechanism, SASL_MECHANISMS, type SaslMechanism } from './protocol/sasl/mechanism.js';
import { deriveScramCredential, MAX_ITERATIONS, MIN_ITERATIONS } from './protocol/sasl/scram.js';
import { credentialJson, loadSaslUsers } from './protocol/sasl/users.js';

export const USAGE = `Usage: npm run broker -- --data-dir DIR [options]

A single-node, disk-backed broker speaking the Kafka wire protocol.

Options:
  --data-dir DIR              where topics, segments and state live (required)
  --host HOST                 listen address (default 127.0.0.1)
  --port PORT                 listen port (default 9092; 0 = any free port)
  --advertised-host HOST      host clients are told to connect to (default: the listen host;
                              127.0.0.1 when listening on 0.0.0.0 or ::)
  --advertised-port PORT      port clients are told to connect to (default: the bound port)
  --node-id N                 broker id reported in metadata (default 1)
  --auto-create-topics BOOL   create unknown topics on metadata requests (default true)
  --default-partitions N      partitions of auto-created topics (default 12)
  --retention-ms MS           default retention by time; -1 = forever (default 7 days)
  --retention-bytes BYTES     default retention by size per partition; -1 = unlimited (default)
  --segment-bytes BYTES       roll segments at this size (default 64 MiB, at most 1 GiB)
  --max-message-bytes BYTES   largest record batch accepted (default 1 MiB + 12)
  --max-request-bytes BYTES   largest request frame; bigger closes the connection (default 16 MiB)
  --retention-check-ms MS     how often retention runs (default 60000)
  --fetch-max-bytes BYTES     most record bytes in one fetch response (default 4 MiB)
  --journal-checkpoint-bytes BYTES
                              journal size at which the segments are synced and it is emptied
                              (default 16 MiB; storage/journal.ts)
  --sasl-users FILE           turn on SASL: every client logs in as one of these users (JSON,
                              see broker/README.md) before any API but ApiVersions
  --sasl-mechanisms LIST      mechanisms offered with --sasl-users (default
                              PLAIN,SCRAM-SHA-256,SCRAM-SHA-512)
  --help                      this text

  npm run broker -- scram-credential [--iterations N] < password-file
                              prints a users-file entry with SCRAM credentials for the
                              password on stdin, so the broker's file holds no password

Environment:
${ALSO_READ_HELP}
`;

function int(name: string, raw: string | undefined, min: number): number {
  if (raw === undefined || !/^-?\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    const huge = raw !== undefined && /^\d+$/.test(raw) && !Number.isSafeInteger(Number(raw));
    throw new UsageError(
      `${name} needs an integer >= ${min}, got ${raw === undefined ? 'nothing' : `'${raw}'`}${
        // Long.MAX_VALUE is Kafka's way to say "forever"; the flags say it with -1.
        huge ? `: at most ${Number.MAX_SAFE_INTEGER}${min === -1 ? ' (-1 means no limit)' : ''}` : ''
      }`,
    );
  }
  return Number(raw);
}

function bool(name: string, raw: string | undefined): boolean {
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw new UsageError(`${name} needs true or false, got '${raw ?? ''}'`);
}

function mechanisms(raw: string | undefined): SaslMechanism[] {
  const list = (raw ?? '').split(',').map((m) => m.trim().toUpperCase());
  const bad = list.find((m) => !isSaslMechanism(m));
  if (bad !== undefined) {
    throw new UsageError(`--sasl-mechanisms: '${bad}' is not one of ${SASL_MECHANISMS.join(', ')}`);
  }
  return [...new Set(list as SaslMechanism[])];
}

/** Returns null for --help. */
export function parseArgs(argv: string[]): StartOptions | null {
  const o: Partial<StartOptions> & { topicDefaults: NonNullable<StartOptions['topicDefaults']> } = {
    topicDefaults: {},
  };
  let saslUsers: string | undefined;
  let saslMechanisms: SaslMechanism[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') return null;
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq) : flag;
    const value = eq > 0 ? flag.slice(eq + 1) : argv[++i];
    switch (name) {
      case '--data-dir':
        if (!value) throw new UsageError('--data-dir needs a directory');
        o.dataDir = value;
        break;
      case '--host':
        if (!value) throw new UsageError('--host needs an address');
        o.host = value;
        break;
      case '--port':
        o.port = int(name, value, 0);
        if (o.port > 65535) throw new UsageError(`--port must be at most 65535, got ${o.port}`);
        break;
      case '--advertised-host':
        if (!value) throw new UsageError('--advertised-host needs a host');
        o.advertisedHost = value;
        break;
      case '--advertised-port':
        o.advertisedPort = int(name, value, 1);
        if (o.advertisedPort > 65535)
          throw new UsageError(`--advertised-port must be at most 65535, got ${o.advertisedPort}`);
        break;
      case '--node-id':
        o.nodeId = int(name, value, 0);
        break;
      case '--auto-create-topics':
        o.autoCreateTopics = bool(name, value);
        break;
      case '--default-partitions':
        o.defaultPartitions = int(name, value, 1);
        break;
      case '--retention-ms':
        o.topicDefaults.retentionMs = int(name, value, -1);
        break;
      case '--retention-bytes':
        o.topicDefaults.retentionBytes = int(name, value, -1);
        break;
      case '--segment-bytes':
        o.topicDefaults.segmentBytes = int(name, value, 1024);
        if (o.topicDefaults.segmentBytes > 1024 ** 3)
          throw new UsageError('--segment-bytes must be at most 1 GiB');
        break;
      case '--max-message-bytes':
        o.topicDefaults.maxMessageBytes = int(name, value, 64);
        break;
      case '--max-request-bytes':
        o.maxRequestBytes = int(name, value, 1024);
        break;
      case '--fetch-max-bytes':
        o.fetchMaxBytes = int(name, value, 1024);
        break;
      case '--journal-checkpoint-bytes':
        o.journalCheckpointBytes = int(name, value, 1024);
        break;
      case '--retention-check-ms':
        o.retentionCheckMs = int(name, value, 10);
        break;
      case '--sasl-users':
        if (!value) throw new UsageError('--sasl-users needs a file');
        saslUsers = value;
        break;
      case '--sasl-mechanisms':
        saslMechanisms = mechanisms(value);
        break;
      default:
        throw new UsageError(`unknown option '${flag}' (see --help)`);
    }
  }
  if (!o.dataDir) throw new UsageError('--data-dir is required (see --help)');
  if (saslMechanisms && !saslUsers) throw new UsageError('--sasl-mechanisms needs --sasl-users');
  if (saslUsers) {
    try {
      o.sasl = { mechanisms: saslMechanisms ?? [...SASL_MECHANISMS], users: loadSaslUsers(saslUsers) };
    } catch (e) {
      throw new UsageError(`--sasl-users ${(e as Error).message}`);
    }
  }
  return o as StartOptions;
}

/**
 * `scram-credential [--iterations N]`: the users-file entry for the password given on stdin (its
 * first line), as JSON. The password is read from stdin, never argv, so it stays out of `ps` and
 * shell history.
 */
export function scramCredentialEntry(argv: string[], stdin: string): string {
  let iterations = MIN_ITERATIONS;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq) : flag;
    const value = eq > 0 ? flag.slice(eq + 1) : argv[++i];
    if (name !== '--iterations') throw new UsageError(`scram-credential: unknown option '${flag}'`);
    iterations = int(name, value, MIN_ITERATIONS);
    if (iterations > MAX_ITERATIONS) throw new UsageError(`--iterations must be at most ${MAX_ITERATIONS}`);
  }
  const password = stdin.split(/\r?\n/)[0] ?? '';
  if (!password) throw new UsageError('scram-credential: give the password on stdin');
  return JSON.stringify(
    {
      'SCRAM-SHA-256': credentialJson(deriveScramCredential('SCRAM-SHA-256', password, iterations)),
      'SCRAM-SHA-512': credentialJson(deriveScramCredential('SCRAM-SHA-512', password, iterations)),
    },
    null,
    2,
  );
}
