// A throw-away private CA for the TLS tests, made with Debian's openssl: a server certificate for
// 127.0.0.1/localhost and, when asked, a client certificate, both signed by the CA, valid 2 days.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { waitForPort } from '../../scripts/supervisor.js';

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Only with { client: true }. */
  clientCert?: string;
  clientKey?: string;
}

export function makePki(dir: string, o: { client?: boolean; caName?: string } = {}): Pki {
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caSubject = `/CN=${o.caName ?? 'fleet test CA'}`;
  ssl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', caSubject);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of o.client ? ['server', 'client'] : ['server']) {
    ssl('req', ...ec, '-keyout', p(`${who}.key`), '-out', p(`${who}.csr`), '-subj', `/CN=${who}`);
    const ext = who === 'server' ? ['-extfile', p('server.ext')] : [];
    const signed = ['-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2'];
    ssl('x509', '-req', '-in', p(`${who}.csr`), ...signed, '-out', p(`${who}.pem`), ...ext);
  }
  const pki: Pki = { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key') };
  if (o.client) {
    pki.clientCert = p('client.pem');
    pki.clientKey = p('client.key');
  }
  return pki;
}

/** socat terminating TLS on 127.0.0.1:port in front of a plain TCP port (our broker has no TLS of
 *  its own; a production cluster terminates TLS itself). With verifyClient, a client certificate signed
 *  by that CA is demanded (mutual TLS). Killed at the test's teardown. */
export async function tlsProxy(
  t: Test,
  o: { port: number; to: number; pki: Pki; verifyClient?: boolean },
): Promise<void> {
  const { pki } = o;
  const verify = o.verifyClient ? `cafile=${pki.ca},verify=1` : 'verify=0';
  const proxy = spawn(
    'socat',
    [
      `OPENSSL-LISTEN:${o.port},bind=127.0.0.1,reuseaddr,fork,cert=${pki.serverCert},key=${pki.serverKey},${verify}`,
      `TCP:127.0.0.1:${o.to}`,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(() => {
    proxy.kill('SIGKILL');
  });
  await waitForPort('127.0.0.1', o.port, 10_000);
}
