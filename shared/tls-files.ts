// The TLS files KAFKA_TLS_*_FILE name, read and checked at start. A file that exists but is not
// PEM (a DER certificate, the wrong file) used to start the program, which then warned "PEM
// routines::no start line" on every connection attempt and retried forever: refuse it in one line
// naming the variable, as a missing file is (exit 2).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from './config.js';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** OpenSSL's reason without its code: "PEM routines::no start line". */
const reason = (e: unknown): string =>
  (e instanceof Error ? e.message : String(e)).replace(/^error:[0-9A-Fa-f]+:/, '');

/**
 * Reads the files and checks what TLS will do with them: each CA certificate parses, the
 * certificate and the key load, and the key is the certificate's. Paths come from loadConfig (the
 * files were readable then). The key file's path is a secret setting's value: never echoed.
 */
export function readTlsFiles(paths: { ca?: string; cert?: string; key?: string }): TlsFiles {
  const out: TlsFiles = {};
  if (paths.ca) {
    const ca = readFileSync(paths.ca, 'utf8');
    // createSecureContext skips a CA that is not PEM without a word; every verify would fail.
    const certs = ca.match(CERTIFICATE) ?? [];
    if (certs.length === 0)
      throw new ConfigError(
        `config: KAFKA_TLS_CA_FILE=${paths.ca} is not allowed: it holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      );
    certs.forEach((pem, i) => {
      try {
        new X509Certificate(pem);
      } catch (e) {
        throw new ConfigError(
          `config: KAFKA_TLS_CA_FILE=${paths.ca} is not allowed: its certificate ${i + 1} cannot be read: ${reason(e)}`,
        );
      }
    });
    out.ca = ca;
  }
  if (paths.cert) {
    out.cert = readFileSync(paths.cert, 'utf8');
    mustLoad(
      { cert: out.cert },
      `config: KAFKA_TLS_CERT_FILE=${paths.cert} is not allowed: not a PEM certificate`,
    );
  }
  if (paths.key) {
    out.key = readFileSync(paths.key, 'utf8');
    mustLoad(
      { key: out.key },
      'config: KAFKA_TLS_KEY_FILE=(secret value hidden) is not allowed: not an unencrypted PEM private key',
    );
  }
  if (out.cert && out.key) {
    mustLoad(
      { cert: out.cert, key: out.key },
      `config: KAFKA_TLS_KEY_FILE is not the key of KAFKA_TLS_CERT_FILE=${paths.cert}`,
    );
  }
  return out;
}

/** Loads `files` as TLS would, or throws `refusal` with OpenSSL's reason. */
function mustLoad(files: SecureContextOptions, refusal: string): void {
  try {
    createSecureContext(files);
  } catch (e) {
    throw new ConfigError(`${refusal}: ${reason(e)}`);
  }
}
