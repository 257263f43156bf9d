// `npm run broker -- --sasl-users FILE`: the users file (password entries and stored SCRAM
// credentials from `scram-credential`), one-line errors for a bad file or option that never
// quote the file (it may hold passwords), and the broker process serving logins from it.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseArgs } from '../broker/cli.js';
import { childBroker, kafka, tempDir } from './helpers/broker-harness.js';
import { runCommand } from './helpers/run.js';

const run = promisify(execFile);
const main = join(import.meta.dirname, '../broker/main.ts');
const AGENT_PASSWORD = 'agent-pw-0123';
const INGEST_PASSWORD = 'ingest-pw-4567';

async function scramCredential(args: string[], stdin: string) {
  const r = await runCommand(process.execPath, ['--import', 'tsx', main, 'scram-credential', ...args], {
    input: stdin,
  });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

async function startFails(args: string[]): Promise<{ code: number; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', main, ...args]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
}

t.test('a users file with a password entry and a stored credential; the broker serves both', async (t) => {
  const dir = tempDir(t);
  const cred = await scramCredential(['--iterations', '8192'], `${INGEST_PASSWORD}\n`);
  t.equal(cred.code, 0, `scram-credential exits 0 ${cred.err}`);
  const entry = JSON.parse(cred.out);
  t.equal(entry['SCRAM-SHA-256'].iterations, 8192);
  t.equal(Buffer.from(entry['SCRAM-SHA-512'].storedKey, 'base64').length, 64);
  t.notOk(cred.out.includes(INGEST_PASSWORD), 'the printed entry does not contain the password');

  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify({ users: { agent: { password: AGENT_PASSWORD }, ingest: entry } }));
  const b = await childBroker(t, join(dir, 'data'), ['--sasl-users', usersFile]);
  t.match(b.output(), /"users":\["agent","ingest"\].*"SASL required on the listener"/, 'logs who may log in');

  for (const [mechanism, username, password] of [
    ['scram-sha-256', 'agent', AGENT_PASSWORD],
    ['scram-sha-512', 'ingest', INGEST_PASSWORD],
    ['plain', 'ingest', INGEST_PASSWORD], // PLAIN checked against the stored SCRAM credential
  ] as const) {
    const producer = kafka(b.address, 'cli', { mechanism, username, password } as never).producer();
    await producer.connect();
    await producer.send({ topic: 'cli-sasl', acks: -1, messages: [{ value: `${mechanism}-${username}` }] });
    await producer.disconnect();
    t.pass(`${mechanism} as ${username}: produced`);
  }
  const refused = kafka(b.address, 'cli', {
    mechanism: 'plain',
    username: 'ingest',
    password: AGENT_PASSWORD,
  }).producer();
  await t.rejects(refused.connect(), /invalid username or password/, "one user's password is not another's");
  await refused.disconnect();
  t.equal(await b.stop(), 0, 'clean stop');
  const out = b.output();
  t.notOk(out.includes(AGENT_PASSWORD) || out.includes(INGEST_PASSWORD), 'no password in the broker output');
});

t.test('bad users files and options: one line naming file, user and field, never the contents', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: [string, RegExp][] = [
    [
      write('broken.json', '{"users": {"agent": {"password": "hunter2-secret"'),
      /broken\.json: not valid JSON$/m,
    ],
    [write('empty.json', '{"users": {}}'), /empty\.json: no users/],
    [write('shape.json', '[1,2]'), /shape\.json: needs \{"users": \{\.\.\.\}\}/],
    [
      write('field.json', '{"users": {"agent": {"pasword": "hunter2-secret"}}}'),
      /field\.json: user 'agent': unknown field 'pasword'/,
    ],
    [
      write(
        'iter.json',
        '{"users": {"ingest": {"SCRAM-SHA-256": {"salt": "c2FsdA==", "iterations": 10, "storedKey": "", "serverKey": ""}}}}',
      ),
      /user 'ingest'\.SCRAM-SHA-256\.iterations must be an integer from 4096/,
    ],
    [
      write('both.json', '{"users": {"agent": {"password": "hunter2-secret", "SCRAM-SHA-512": {}}}}'),
      /user 'agent': give a password or credentials, not both/,
    ],
    [join(dir, 'missing.json'), /missing\.json: cannot read \(ENOENT\)/],
  ];
  for (const [file, expected] of cases) {
    const r = await startFails(['--data-dir', join(dir, 'd'), '--sasl-users', file]);
    t.equal(r.code, 2, `${file}: exit 2`);
    t.match(r.stderr, expected, `${file}: ${r.stderr.trim()}`);
    t.notOk(r.stderr.includes('hunter2'), `${file}: the file's contents are not echoed`);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.throws(
    () => parseArgs(['--data-dir', 'd', '--sasl-users', cases[0]![0], '--sasl-mechanisms', 'PLAIN,GSSAPI']),
    /--sasl-mechanisms: 'GSSAPI' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/,
  );
  t.throws(
    () => parseArgs(['--data-dir', 'd', '--sasl-mechanisms', 'PLAIN']),
    /--sasl-mechanisms needs --sasl-users/,
  );
  const good = write('good.json', '{"users": {"agent": {"password": "x"}}}');
  const o = parseArgs([
    '--data-dir',
    'd',
    '--sasl-users',
    good,
    '--sasl-mechanisms',
    'scram-sha-512,SCRAM-SHA-512',
  ]);
  t.same(o?.sasl?.mechanisms, ['SCRAM-SHA-512'], 'mechanisms upper-cased and de-duplicated');
  t.same(o?.sasl?.users.names(), ['agent']);

  const noPassword = await scramCredential([], '');
  t.equal(noPassword.code, 2, 'scram-credential without a password: exit 2');
  t.match(noPassword.err, /give the password on stdin/);
});
