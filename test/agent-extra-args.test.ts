// Commands that take no positional arguments refuse them (a usage error, exit 2) instead of
// starting as if they were not there: `agent run extra` must not quietly run. Option values
// outside their range are refused the same way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type Ran, runCommand } from './helpers/run.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/nmea/hemi.log');

/** The command's outcome; one that is still running after 15 s (it started) is killed: code null. */
async function agent(args: string[]): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete env['ENV_FILE'];
  return runCommand(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], {
    env,
    timeoutMs: 15_000,
  }).catch((e: Error) => ({ code: null, stdout: '', stderr: `(still running, killed) ${e.message}` }));
}

t.test('run, status and simulate refuse positional arguments; decode still takes its FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-extra-args-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'o.db');
  const offline = ['--brokers', '127.0.0.1:1'];
  const [run, runLast, status, simulate, decode] = await Promise.all([
    agent(['run', 'extra', '--device', 'd1', '--replay', FIXTURE, '--db', db, ...offline]),
    agent(['run', '--device', 'd1', '--replay', FIXTURE, '--db', db, ...offline, '--loop', 'yes']),
    agent(['status', 'now', '--db', join(dir, 'missing.db')]),
    agent(['simulate', '--devices', '1', '--db', join(dir, 's.db'), ...offline, 'fast']),
    agent(['decode', '--quiet', FIXTURE]),
  ]);
  const cases: [string, Ran, string][] = [
    ['run extra', run, 'agent run: unexpected argument "extra" (see --help)'],
    ['run --loop yes', runLast, 'agent run: unexpected argument "yes" (see --help)'],
    ['status now', status, 'agent status: unexpected argument "now" (see --help)'],
    ['simulate ... fast', simulate, 'agent simulate: unexpected argument "fast" (see --help)'],
  ];
  for (const [what, r, line] of cases) {
    t.equal(r.code, 2, `${what}: exit 2`);
    t.equal(r.stderr, `${line}\n`, `${what}: one line naming the argument`);
  }
  t.equal(decode.code, 0, 'decode FILE still works');
  t.match(decode.stdout, /^\{"time":/);
});

t.test(
  'simulate refuses --devices, --speed, --duration and --seed past their limits, and a --prefix making bad ids',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-extra-args-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const sim = ['simulate', '--db', join(dir, 's.db'), '--brokers', '127.0.0.1:1'];
    // --devices 1e9 used to start, print nothing and grow to ~490 MB.
    const cases: [string[], string][] = [
      [['--devices', '1e9'], "--devices needs an integer from 1 to 100000, got '1e9'"],
      [['--devices', '100001'], "--devices needs an integer from 1 to 100000, got '100001'"],
      [['--devices', '0'], "--devices needs an integer from 1 to 100000, got '0'"],
      [['--devices', '1', '--speed', '1e9'], "--speed needs a number from 0.01 to 1000, got '1e9'"],
      [['--devices', '1', '--speed', '1001'], "--speed needs a number from 0.01 to 1000, got '1001'"],
      [
        ['--devices', '1', '--duration', '99999999'],
        "--duration needs an integer from 1 to 31622400, got '99999999'",
      ],
      [
        ['--devices', '1', '--seed', '4294967296'],
        "--seed needs an integer from 1 to 4294967295, got '4294967296'",
      ],
      // Ids a real agent could not have (DEVICE_ID): the API and the dashboard showed them.
      [
        ['--devices', '12', '--prefix', 'bad id/'],
        '--prefix "bad id/" makes device ids such as "bad id/0012", not 1..64 letters, digits or . _ : - (not . or ..)',
      ],
      [
        ['--devices', '3', '--prefix', 'x'.repeat(61)],
        `--prefix "${'x'.repeat(61)}" makes device ids such as "${'x'.repeat(61)}0003", not 1..64 letters, digits or . _ : - (not . or ..)`,
      ],
    ];
    const ran = await Promise.all(cases.map(([args]) => agent([...sim, ...args])));
    cases.forEach(([args, line], i) => {
      t.equal(ran[i]!.code, 2, `${args.join(' ')}: exit 2`);
      t.equal(ran[i]!.stderr, `agent simulate: ${line}\n`, `${args.join(' ')}: one line naming the option`);
    });
  },
);

t.test('an empty option value is refused, not taken as the option left out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-extra-args-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Before, --brokers "" fell back to 127.0.0.1:9092 even with KAFKA_BROKERS set.
  const [run, simulate, db] = await Promise.all([
    agent(['run', '--device', 'd1', '--replay', FIXTURE, '--db', join(dir, 'o.db'), '--brokers', '']),
    agent(['simulate', '--devices', '1', '--db', join(dir, 's.db'), '--brokers', '']),
    agent(['status', '--db', '']),
  ]);
  const cases: [string, Ran, string][] = [
    ['run --brokers ""', run, 'agent run: --brokers "" is empty: give a value, or leave the option out'],
    [
      'simulate --brokers ""',
      simulate,
      'agent simulate: --brokers "" is empty: give a value, or leave the option out',
    ],
    ['status --db ""', db, 'agent status: --db "" is empty: give a value, or leave the option out'],
  ];
  for (const [what, r, line] of cases) {
    t.equal(r.code, 2, `${what}: exit 2`);
    t.equal(r.stderr, `${line}\n`, `${what}: one line naming the option`);
  }
});
