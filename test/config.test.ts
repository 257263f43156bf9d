import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { agentSpec } from '../agent/config.js';
import { ingestSpec } from '../ingest/config.js';
import { httpSpec } from '../ingest/http/config.js';
import { ConfigError, describeConfig, env, HOST_PORT, loadConfig, readEnvFile } from '../shared/config.js';
import { kafkaClientConfig, kafkaSpec } from '../shared/kafka.js';
import { makePki } from './helpers/pki.js';
import { runCommand } from './helpers/run.js';

const spec = {
  PORT: env.int({ description: 'port', default: 8080, min: 1, max: 65535 }),
  RATIO: env.number({ description: 'ratio', default: 0.5, min: 0, max: 1 }),
  ON: env.bool({ description: 'switch', default: false }),
  MODE: env.oneOf(['a', 'b'] as const, { description: 'mode', default: 'a' }),
  HOSTS: env.list({ description: 'hosts', item: /^[a-z]+:\d+$/, itemWords: 'host:port' }),
  TOKEN: env.string({ description: 'token', secret: true }),
};

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '(accepted)';
}

t.test('defaults, parsing and empty-as-unset', async (t) => {
  const c = loadConfig(spec, { env: {} });
  t.same(c, { PORT: 8080, RATIO: 0.5, ON: false, MODE: 'a', HOSTS: undefined, TOKEN: undefined });
  const d = loadConfig(spec, {
    env: {
      PORT: '65535',
      RATIO: '1',
      ON: 'yes',
      MODE: 'b',
      HOSTS: 'a:1, b:2',
      TOKEN: 's3cret',
      PORT_UNUSED: 'x',
    },
  });
  t.same(d, { PORT: 65535, RATIO: 1, ON: true, MODE: 'b', HOSTS: ['a:1', 'b:2'], TOKEN: 's3cret' });
  t.equal(loadConfig(spec, { env: { PORT: '' } }).PORT, 8080, 'empty value means unset');
  const o = loadConfig(spec, {
    env: { PORT: '9000', MODE: 'b' },
    overrides: { PORT: '9001', MODE: undefined },
  });
  t.same([o.PORT, o.MODE], [9001, 'b'], 'a given override wins over the environment, an absent one does not');
  t.match(
    errorOf(() => loadConfig(spec, { env: {}, overrides: { PORT: 'x' } })),
    /PORT="x" is not allowed/,
  );
});

t.test('a bad value is one line naming variable, value and what is allowed', async (t) => {
  t.equal(
    errorOf(() => loadConfig(spec, { env: { PORT: '0' } })),
    'config: PORT="0" is not allowed: expected an integer from 1 to 65535',
  );
  t.match(
    errorOf(() => loadConfig(spec, { env: { PORT: '80.5' } })),
    /PORT="80.5" .*integer/,
  );
  t.match(
    errorOf(() => loadConfig(spec, { env: { RATIO: 'NaN' } })),
    /RATIO="NaN" .*a number from 0 to 1/,
  );
  t.match(
    errorOf(() => loadConfig(spec, { env: { ON: 'maybe' } })),
    /ON="maybe" .*true or false/,
  );
  t.match(
    errorOf(() => loadConfig(spec, { env: { MODE: 'c' } })),
    /MODE="c" .*one of a, b/,
  );
  t.match(
    errorOf(() => loadConfig(spec, { env: { HOSTS: 'a:1,B' } })),
    /HOSTS="a:1,B" .*list of host:port/,
  );
  const secret = errorOf(() =>
    loadConfig(
      { T: env.string({ description: 't', secret: true, pattern: /^x/ }) },
      { env: { T: 'hunter2' } },
    ),
  );
  t.notMatch(secret, /hunter2/, 'a secret is never echoed');
  t.match(secret, /secret value hidden/);
  t.notMatch(describeConfig(spec), /s3cret/);
  t.match(describeConfig(spec), /PORT .*default: 8080/);
});

t.test('env file: read, overridden by the environment, bad lines named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'agent.env');
  writeFileSync(file, '# comment\nexport PORT=9000\nMODE="b"\n\nTOKEN=\'abc\'\n');
  t.same(readEnvFile(file), { PORT: '9000', MODE: 'b', TOKEN: 'abc' });
  const c = loadConfig(spec, { envFile: file, env: { PORT: '9001' } });
  t.equal(c.PORT, 9001, 'environment wins');
  t.equal(c.MODE, 'b');
  writeFileSync(file, 'PORT=1\nthis is not a setting\n');
  t.match(
    errorOf(() => loadConfig(spec, { envFile: file })),
    /agent\.env:2 is not KEY=VALUE/,
  );
  t.match(
    errorOf(() => loadConfig(spec, { envFile: join(dir, 'missing.env') })),
    /cannot read env file .*ENOENT/,
  );
  writeFileSync(file, 'MODE=b\n');
  t.equal(loadConfig(spec, { env: { ENV_FILE: file } }).MODE, 'b', 'ENV_FILE names the file');
  process.env['ENV_FILE'] = file;
  t.teardown(() => {
    delete process.env['ENV_FILE'];
  });
  t.equal(loadConfig(spec).MODE, 'b', 'also when the environment is the process environment');
});

t.test('kafka: TLS and SASL from config, plaintext refused off-box', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A real CA certificate: its contents are checked at start.
  const pem = makePki(dir).ca;
  const s = loadConfig(kafkaSpec, {
    env: {
      KAFKA_BROKERS: 'kafka-1.example:9093,kafka-2.example:9093',
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: pem,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'agent',
      KAFKA_SASL_PASSWORD: 'pw',
    },
  });
  const k = kafkaClientConfig(s, 'gps-agent', s.KAFKA_BROKERS!);
  t.same(k.brokers, ['kafka-1.example:9093', 'kafka-2.example:9093']);
  t.match(k.ssl, { rejectUnauthorized: true, ca: [/BEGIN CERTIFICATE/] });
  t.same(k.sasl, { mechanism: 'scram-sha-512', username: 'agent', password: 'pw' });
  t.equal(s.KAFKA_TOPIC, 'gps.fixes');

  const plain = loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: 'kafka.example:9092' } });
  t.match(
    errorOf(() => kafkaClientConfig(plain, 'x', plain.KAFKA_BROKERS!)),
    /not on this machine and KAFKA_TLS is off/,
  );
  const local = loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: '127.0.0.1:9092' } });
  t.equal(kafkaClientConfig(local, 'x', local.KAFKA_BROKERS!).ssl, undefined, 'loopback needs no TLS');
  const noPw = loadConfig(kafkaSpec, { env: { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' } });
  t.match(
    errorOf(() => kafkaClientConfig(noPw, 'x', ['127.0.0.1:1'])),
    /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
  );
  t.match(
    errorOf(() => loadConfig(kafkaSpec, { env: { KAFKA_TLS_CA_FILE: join(dir, 'nope.pem') } })),
    /KAFKA_TLS_CA_FILE=.* readable file/,
  );
  t.match(
    errorOf(() => loadConfig(kafkaSpec, { env: { KAFKA_SASL_MECHANISM: 'gssapi' } })),
    /one of plain, scram-sha-256, scram-sha-512/,
  );
});

t.test(
  "TLS files: a file that is not PEM (or a key not the certificate's) is refused at start",
  async (t) => {
    // Before, the agent and the ingest started and warned "PEM routines::no start line" forever.
    const dir = mkdtempSync(join(tmpdir(), 'cfg-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const pki = makePki(dir, { client: true });
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'this is not a certificate\n');
    const garbled = join(dir, 'garbled.pem');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const settings = (e: Record<string, string>) =>
      loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: '127.0.0.1:9093', ...e } });
    const check = (e: Record<string, string>) =>
      errorOf(() => kafkaClientConfig(settings(e), 'x', ['127.0.0.1:9093']));
    const mtls = {
      KAFKA_TLS_CA_FILE: pki.ca,
      KAFKA_TLS_CERT_FILE: pki.clientCert!,
      KAFKA_TLS_KEY_FILE: pki.clientKey!,
    };
    t.equal(check(mtls), '(accepted)', 'a real CA, certificate and key');
    t.equal(
      check({ ...mtls, KAFKA_TLS_CA_FILE: notPem }),
      `config: KAFKA_TLS_CA_FILE=${notPem} is not allowed: it holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
    t.match(
      check({ ...mtls, KAFKA_TLS_CA_FILE: garbled }),
      new RegExp(`^config: KAFKA_TLS_CA_FILE=${garbled} is not allowed: its certificate 1 cannot be read: `),
    );
    t.equal(
      check({ ...mtls, KAFKA_TLS_CERT_FILE: notPem }),
      `config: KAFKA_TLS_CERT_FILE=${notPem} is not allowed: not a PEM certificate: PEM routines::no start line`,
    );
    const keyError = check({ ...mtls, KAFKA_TLS_KEY_FILE: notPem });
    t.match(
      keyError,
      /^config: KAFKA_TLS_KEY_FILE=\(secret value hidden\) is not allowed: not an unencrypted PEM private key: /,
    );
    t.notMatch(keyError, notPem, "the key's path is a secret setting's value: not echoed");
    t.equal(
      check({ ...mtls, KAFKA_TLS_KEY_FILE: pki.serverKey }),
      `config: KAFKA_TLS_KEY_FILE is not the key of KAFKA_TLS_CERT_FILE=${pki.clientCert}: x509 certificate routines::key values mismatch`,
    );
    // The real programs: one line, exit 2, before anything starts. Both go through kafkaClientConfig.
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      ...mtls,
      KAFKA_TLS_CERT_FILE: notPem,
      LOG_LEVEL: 'warn',
    };
    delete base['ENV_FILE'];
    delete base['KAFKA_BROKERS'];
    const line = `config: KAFKA_TLS_CERT_FILE=${notPem} is not allowed: not a PEM certificate: PEM routines::no start line\n`;
    const [agent, ingest] = await Promise.all([
      runCommand(
        process.execPath,
        [
          '--import',
          'tsx',
          'agent/main.ts',
          'run',
          '--device',
          'd1',
          '--replay',
          'test/fixtures/nmea/hemi.log',
          '--db',
          join(dir, 'o.db'),
        ],
        { env: base, timeoutMs: 30_000 },
      ),
      runCommand(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'run', '--no-http'], {
        env: { ...base, INGEST_SQLITE_PATH: join(dir, 'i.db'), INGEST_TOKEN: 'a-token-of-sixteen-chars' },
        timeoutMs: 30_000,
      }),
    ]);
    t.equal(agent.code, 2, 'agent: exit 2');
    t.equal(agent.stderr, line, 'agent: one line naming the variable');
    t.equal(ingest.code, 2, 'ingest: exit 2');
    t.equal(ingest.stderr, line, 'ingest: one line naming the variable');
  },
);

t.test('a real program with a bad variable prints one line and exits 2', async (t) => {
  const run = (envExtra: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/config-main.ts'], {
      env: { ...process.env, ...envExtra },
      encoding: 'utf8',
    });
  const bad = run({ GPS_BAUD: 'fast' });
  t.equal(bad.status, 2);
  t.equal(bad.stderr, 'config: GPS_BAUD="fast" is not allowed: expected an integer from 1200 to 921600\n');
  t.notMatch(bad.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const cross = run({ KAFKA_BROKERS: 'far.example:9092' });
  t.equal(cross.status, 2);
  t.equal(cross.stderr.trim().split('\n').length, 1);
  const good = run({ GPS_BAUD: '115200' });
  t.equal(good.status, 0, good.stderr);
  t.equal(good.stdout, 'baud=115200\n');
});

t.test('KAFKA_BROKERS: a port outside 1-65535 is refused at start, for every program', async (t) => {
  // The message names the entry that is wrong (in a list of six brokers, which one).
  for (const [bad, entry] of [
    ['127.0.0.1:99999', '127.0.0.1:99999'],
    ['127.0.0.1:65536', '127.0.0.1:65536'],
    ['127.0.0.1:0', '127.0.0.1:0'],
    ['a:1,[::1]:70000', '[::1]:70000'],
    ['a:1, ,b:2,kafka-3', 'kafka-3'],
  ] as const)
    t.equal(
      errorOf(() => loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: bad } })),
      `config: KAFKA_BROKERS="${bad}" is not allowed: "${entry}" is not host:port; expected a comma-separated list of host:port`,
      bad,
    );
  t.equal(
    errorOf(() => loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: ' , ' } })),
    'config: KAFKA_BROKERS=" , " is not allowed: expected a comma-separated list of host:port',
    'no entries at all: nothing to name',
  );
  for (const good of ['127.0.0.1:1', 'kafka-1.example:65535', 'localhost:9092,b:443'])
    t.same(loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: good } }).KAFKA_BROKERS, good.split(','), good);
  t.notOk(HOST_PORT.test('a:09092'), 'no leading zeros');
  // The real program (loads the spec as agent, ingest and npm start do): one line, exit 2.
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/config-main.ts'], {
    env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:99999' },
    encoding: 'utf8',
  });
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    'config: KAFKA_BROKERS="127.0.0.1:99999" is not allowed: "127.0.0.1:99999" is not host:port; expected a comma-separated list of host:port\n',
  );
});

t.test('KAFKA_BROKERS: an IPv6 address is refused at start with the reason', async (t) => {
  // kafkajs splits a bootstrap broker at its first ':': [::1]:19092 passed the check, then the
  // agent and the ingest retried "ENOTFOUND [" forever.
  for (const [bad, entry] of [
    ['[::1]:19092', '[::1]:19092'],
    ['kafka-1.example:9093,[2001:db8::5]:9093', '[2001:db8::5]:9093'],
  ] as const)
    t.equal(
      errorOf(() => loadConfig(kafkaSpec, { env: { KAFKA_BROKERS: bad } })),
      `config: KAFKA_BROKERS="${bad}" is not allowed: "${entry}" is an IPv6 address, which kafkajs cannot connect to; use a host name that resolves to it; expected a comma-separated list of host:port`,
      bad,
    );
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/config-main.ts'], {
    env: { ...process.env, KAFKA_BROKERS: '[::1]:19092' },
    encoding: 'utf8',
  });
  t.equal(r.status, 2);
  t.match(r.stderr, /^config: KAFKA_BROKERS="\[::1\]:19092" is not allowed: .* IPv6 address.*\n$/);
  t.equal(r.stderr.split('\n').length, 2, 'one line');
});

t.test('a misspelt setting is a warning naming it and the closest known name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'agent.env');
  // Other programs' variables are left alone; only near-misses of our names are reported.
  writeFileSync(
    file,
    'DEVICE_ID=d1\nKAFKA_BROKER=10.0.0.5:9092\nTZ=UTC\nNODE_OPTIONS=--trace-warnings\nHTTP_PROXY=http://p:3128\n',
  );
  const warnings: string[] = [];
  const c = loadConfig(agentSpec, { envFile: file, env: {}, warn: (l) => warnings.push(l) });
  t.equal(c.KAFKA_BROKERS, undefined, 'the misspelt key is still not a setting');
  t.same(warnings, [
    `config: warning: KAFKA_BROKER (in ${file}) is not a setting and is ignored; did you mean KAFKA_BROKERS?`,
  ]);
  // systemd's EnvironmentFile= puts the file into the environment: checked there too.
  const fromEnv: string[] = [];
  loadConfig(agentSpec, {
    env: { device_id: 'd1', OUTBOX_MAX_ROW: '10', LOG_LEVL: 'debug', PATH: '/bin', HOME: '/root' },
    warn: (l) => fromEnv.push(l),
  });
  t.same(fromEnv, [
    'config: warning: device_id (in the environment) is not a setting and is ignored; did you mean DEVICE_ID?',
    'config: warning: OUTBOX_MAX_ROW (in the environment) is not a setting and is ignored; did you mean OUTBOX_MAX_ROWS?',
    'config: warning: LOG_LEVL (in the environment) is not a setting and is ignored; did you mean LOG_LEVEL?',
  ]);
  // No program's real setting looks misspelt to another program (status reads only AGENT_DB,
  // simulate only Kafka's, the ingest its own: one env file may serve them all).
  const programs = {
    'agent run': agentSpec,
    'agent status': { AGENT_DB: agentSpec.AGENT_DB },
    'agent simulate': kafkaSpec,
    ingest: { ...kafkaSpec, ...ingestSpec, ...httpSpec },
  };
  const all = Object.values(programs).flatMap((s) => Object.keys(s));
  const confused: string[] = [];
  for (const [program, spec] of Object.entries(programs)) {
    const others = Object.fromEntries(all.filter((n) => !(n in spec)).map((n) => [n, 'x']));
    loadConfig(spec, { env: others, warn: (l) => confused.push(`${program}: ${l}`) });
  }
  t.same(confused, [], "no program takes another's setting for a misspelling");
});

t.test('the warning from real programs: the agent and the ingest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.env');
  writeFileSync(file, `DEVICE_ID=d1\nAGENT_DB=${dir}/no-such-dir/o.db\nKAFKA_BROKER=10.0.0.5:9092\n`);
  const base: NodeJS.ProcessEnv = { ...process.env, ENV_FILE: file, LOG_LEVEL: 'warn' };
  delete base['KAFKA_BROKERS'];
  delete base['AGENT_DB'];
  delete base['DEVICE_ID'];
  const warning = `config: warning: KAFKA_BROKER (in ${file}) is not a setting and is ignored; did you mean KAFKA_BROKERS?\n`;
  const agent = await runCommand(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'run'], {
    env: base,
  });
  t.equal(agent.code, 1, 'the agent still stops on its outbox (the quickest way out)');
  t.ok(agent.stderr.startsWith(warning), agent.stderr);
  const ingest = await runCommand(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'migrate'], {
    env: { ...base, INGEST_SQLITE_PATH: join(dir, 'ingest.db') },
  });
  t.equal(ingest.code, 0, ingest.stderr);
  t.ok(ingest.stderr.startsWith(warning), ingest.stderr);
});

t.test('LOG_LEVEL: a level pino does not know is one line and exit 2, from every program', async (t) => {
  const mkdir = mkdtempSync(join(tmpdir(), 'log-level-'));
  t.teardown(() => rmSync(mkdir, { recursive: true, force: true }));
  for (const args of [
    ['broker/main.ts', '--data-dir', join(mkdir, 'b'), '--port', '0'],
    ['ingest/main.ts', 'migrate'],
    [
      'agent/main.ts',
      'run',
      '--replay',
      'test/fixtures/nmea/sirfstarv-nmea.log',
      '--db',
      join(mkdir, 'a.db'),
    ],
  ]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], {
      env: { ...process.env, LOG_LEVEL: 'verbose', INGEST_SQLITE_PATH: join(mkdir, 'i.db'), DEVICE_ID: 'd1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.equal(r.status, 2, `${args[0]}: exit 2`);
    t.equal(
      r.stderr,
      'config: LOG_LEVEL="verbose" is not allowed: expected one of fatal, error, warn, info, debug, trace, silent\n',
      `${args[0]}: one line`,
    );
  }
});

t.test('LOG_LEVEL in the ENV_FILE is followed and checked like one in the environment', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'log-level-file-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = (fileText: string, more: NodeJS.ProcessEnv = {}) => {
    const file = join(dir, `e${Math.random()}.env`);
    writeFileSync(file, fileText);
    const e: NodeJS.ProcessEnv = {
      ...process.env,
      ENV_FILE: file,
      INGEST_SQLITE_PATH: join(dir, 'i.db'),
      ...more,
    };
    delete e['LOG_LEVEL'];
    if (more['LOG_LEVEL']) e['LOG_LEVEL'] = more['LOG_LEVEL'];
    return e;
  };
  const migrate = (e: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'ingest/main.ts', 'migrate'], {
      env: e,
      encoding: 'utf8',
      timeout: 60_000,
    });
  // migrate logs 'schema is up to date' at info: gone at warn. Before, the file's level was ignored.
  const quiet = migrate(env('LOG_LEVEL=warn\n'));
  t.equal(quiet.status, 0, quiet.stderr);
  t.notMatch(quiet.stdout, /schema is up to date/, 'LOG_LEVEL=warn from the file');
  const loud = migrate(env('LOG_LEVEL=warn\n', { LOG_LEVEL: 'info' }));
  t.match(loud.stdout, /schema is up to date/, 'the environment wins over the file');
  const bad = migrate(env('LOG_LEVEL=verbose\n'));
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^config: LOG_LEVEL="verbose" is not allowed/);
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'ingest/main.ts', '--help'], {
    encoding: 'utf8',
  });
  t.match(help.stdout, /LOG_LEVEL +log level/, '--help lists it');
  t.match(help.stdout, /ENV_FILE +a file of NAME=value lines/);
});

t.test('DEVICE_ID: not . or .., which a browser folds out of /api/devices/<id>/track', async (t) => {
  const load = (id: string) => loadConfig({ DEVICE_ID: agentSpec.DEVICE_ID }, { env: { DEVICE_ID: id } });
  for (const id of ['.', '..'])
    t.throws(() => load(id), /DEVICE_ID=".{1,2}" is not allowed: expected .*not \. or \.\./);
  t.equal(load('rider.7').DEVICE_ID, 'rider.7');
  t.equal(load('...').DEVICE_ID, '...');
});
