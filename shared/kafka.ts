// Kafka client settings both sides share: where the brokers are and how to reach them safely.
// In production KAFKA_BROKERS names the cluster and TLS + SASL come from here; with it unset the
// programs use the embedded broker on loopback.
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { type Config, ConfigError, env, HOST_PORT } from './config.js';
import { readTlsFiles } from './tls-files.js';

export const DEFAULT_TOPIC = 'gps.fixes';

/** The dead-letter topic of a fix topic: `<topic>.dlq`. */
export const dlqTopicFor = (topic: string): string => `${topic}.dlq`;
export const DLQ_TOPIC = dlqTopicFor(DEFAULT_TOPIC);

export const kafkaSpec = {
  KAFKA_BROKERS: env.list({
    description: 'Kafka bootstrap brokers; unset = the embedded broker',
    item: HOST_PORT,
    itemWords: 'host:port',
    // kafkajs takes a bootstrap broker apart at its first ':' (cluster/connectionPoolBuilder.js),
    // so [::1]:9092 becomes host "[" and the client retries "ENOTFOUND [" forever. It has no
    // other form for an address (brokers are strings, also from a function); a name resolving
    // to it works, and so do IPv6 addresses a broker advertises in its metadata.
    refuse: (item) =>
      item.startsWith('[')
        ? 'is an IPv6 address, which kafkajs cannot connect to; use a host name that resolves to it'
        : undefined,
  }),
  KAFKA_TOPIC: env.string({
    description: 'topic of the fix records',
    default: DEFAULT_TOPIC,
    pattern: /^[A-Za-z0-9._-]{1,249}$/,
    patternWords: 'a Kafka topic name (letters, digits, . _ -)',
  }),
  KAFKA_TLS: env.bool({
    // The files only make sense over TLS, so they turn it on; --help says so (QA read
    // KAFKA_TLS=false with a CA file set as plaintext, and met a TLS handshake instead).
    description: 'connect with TLS (on anyway when KAFKA_TLS_CA_FILE or KAFKA_TLS_CERT_FILE is set)',
    default: false,
  }),
  KAFKA_TLS_CA_FILE: env.file({ description: 'CA certificate (PEM) to trust, instead of the system CAs' }),
  KAFKA_TLS_CERT_FILE: env.file({ description: 'client certificate (PEM) for mutual TLS' }),
  KAFKA_TLS_KEY_FILE: env.file({ description: 'client private key (PEM) for mutual TLS', secret: true }),
  KAFKA_SASL_MECHANISM: env.oneOf(['plain', 'scram-sha-256', 'scram-sha-512'] as const, {
    description: 'SASL mechanism; unset = no SASL',
  }),
  KAFKA_SASL_USERNAME: env.string({ description: 'SASL user name' }),
  KAFKA_SASL_PASSWORD: env.string({ description: 'SASL password', secret: true }),
  KAFKA_ALLOW_PLAINTEXT: env.bool({
    description: 'allow a non-loopback broker without TLS (a private network only)',
    default: false,
  }),
};
export type KafkaSettings = Config<typeof kafkaSpec>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost):\d+$/;

/**
 * kafkajs settings from the validated variables. Cross-variable rules are checked here:
 * a certificate needs its key, SASL needs a user and a password, and a broker off this machine
 * needs TLS unless plaintext was explicitly allowed (positions of people are personal data). The
 * TLS files are read and checked here (shared/tls-files.ts), so a wrong one stops the start.
 */
export function kafkaClientConfig(s: KafkaSettings, clientId: string, brokers: string[]): KafkaConfig {
  if (!!s.KAFKA_TLS_CERT_FILE !== !!s.KAFKA_TLS_KEY_FILE) {
    throw new ConfigError('config: KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together');
  }
  const tls = s.KAFKA_TLS || !!s.KAFKA_TLS_CA_FILE || !!s.KAFKA_TLS_CERT_FILE;
  const remote = brokers.filter((b) => !LOOPBACK.test(b));
  if (remote.length > 0 && !tls && !s.KAFKA_ALLOW_PLAINTEXT) {
    throw new ConfigError(
      `config: KAFKA_BROKERS=${remote[0]} is not on this machine and KAFKA_TLS is off: set KAFKA_TLS=true (or KAFKA_ALLOW_PLAINTEXT=true on a private network)`,
    );
  }
  let sasl: SASLOptions | undefined;
  if (s.KAFKA_SASL_MECHANISM) {
    if (!s.KAFKA_SASL_USERNAME || !s.KAFKA_SASL_PASSWORD) {
      throw new ConfigError(
        `config: KAFKA_SASL_MECHANISM=${s.KAFKA_SASL_MECHANISM} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      );
    }
    const creds = { username: s.KAFKA_SASL_USERNAME, password: s.KAFKA_SASL_PASSWORD };
    sasl =
      s.KAFKA_SASL_MECHANISM === 'plain'
        ? { mechanism: 'plain', ...creds }
        : s.KAFKA_SASL_MECHANISM === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', ...creds }
          : { mechanism: 'scram-sha-512', ...creds };
  }
  const files = readTlsFiles({
    ca: s.KAFKA_TLS_CA_FILE,
    cert: s.KAFKA_TLS_CERT_FILE,
    key: s.KAFKA_TLS_KEY_FILE,
  });
  return {
    clientId,
    brokers,
    ssl: tls
      ? {
          rejectUnauthorized: true,
          ca: files.ca ? [files.ca] : undefined,
          cert: files.cert,
          key: files.key,
        }
      : undefined,
    sasl,
  };
}
