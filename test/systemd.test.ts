// The unit file and the install script, checked with systemd's own tools.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';

const ROOT = join(import.meta.dirname, '..');
const UNIT = join(ROOT, 'systemd/gps-agent.service');
const INSTALL = join(ROOT, 'systemd/install.sh');
const exec = promisify(execFile);

type Result = { code: number; stdout: string; stderr: string };
async function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  try {
    const r = await exec(cmd, args, { env: { ...process.env, ...env }, timeout: 120_000 });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

function tmp(t: Test, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function exposure(unit: string): Promise<number> {
  const r = await sh('systemd-analyze', ['security', '--offline=yes', unit]);
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`no exposure in: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

t.test('the unit passes systemd-analyze verify', async (t) => {
  const r = await sh('systemd-analyze', ['verify', UNIT]);
  t.equal(r.code, 0);
  t.equal(r.stderr.trim(), '', 'no warnings');
});

t.test('the unit is hardened: systemd-analyze security exposure <= 2.0', async (t) => {
  const e = await exposure(UNIT);
  t.ok(e <= 2.0, `exposure ${e}`);
});

t.test('the unit has what the service needs', async (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'Restart=always',
    'StateDirectory=gps-agent',
    'EnvironmentFile=/etc/gps-agent/agent.env',
    'SupplementaryGroups=dialout',
    'User=gps-agent',
  ]) {
    t.match(unit, new RegExp(`^${line}$`, 'm'), line);
  }
  t.match(unit, /^WatchdogSec=\d+$/m);
  t.match(unit, /^ExecStart=\/usr\/bin\/node (--[a-z-]+=\S+ )*\/opt\/gps-agent\/dist\/gps-agent\.mjs run$/m);
});

t.test('install.sh --help: the usage comment, not code', async (t) => {
  const r = await sh('bash', [INSTALL, '--help']);
  t.match(r.stdout, /^usage: sudo systemd\/install.sh/m);
  t.match(r.stdout, /--node PATH/);
  t.notMatch(r.stdout, /set -euo|ROOT=/, 'it printed two lines of the script after the comment');
});

t.test('install.sh --root installs into a temporary root and starts nothing', async (t) => {
  const root = tmp(t, 'install-root-');
  // A systemctl that only records: the install into a root must not call it.
  const bin = tmp(t, 'install-bin-');
  const calls = join(bin, 'calls');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$@" >> ${calls}\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  const env = { PATH: `${bin}:${process.env['PATH']}` };

  const r = await sh('bash', [INSTALL, '--root', root, '--deps', 'link'], env);
  t.equal(r.code, 0, 'install exits 0');
  t.notOk(existsSync(calls), 'systemctl not called');

  const unit = join(root, 'etc/systemd/system/gps-agent.service');
  t.ok(existsSync(unit));
  t.ok(existsSync(join(root, 'etc/systemd/system/multi-user.target.wants/gps-agent.service')), 'enabled');
  const v = await sh('systemd-analyze', ['verify', unit]);
  t.equal(v.code, 0, 'installed unit verifies');
  t.ok((await exposure(unit)) <= 2.0);

  const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
  t.match(passwd, /^gps-agent:x:\d+:\d+:GPS fleet agent:\/var\/lib\/gps-agent:\/usr\/sbin\/nologin$/m);
  t.match(readFileSync(join(root, 'etc/group'), 'utf8'), /^gps-agent:x:\d+:/m);

  const envFile = join(root, 'etc/gps-agent/agent.env');
  t.equal(statSync(envFile).mode & 0o777, 0o600, 'agent.env is 0600 (it may hold the SASL password)');
  t.match(readFileSync(envFile, 'utf8'), /^DEVICE_ID=$/m);

  const wrapper = readFileSync(join(root, 'usr/local/bin/gps-agent'), 'utf8');
  t.match(wrapper, /AGENT_DB:-\/var\/lib\/gps-agent\/outbox\.db/);
  t.equal(statSync(join(root, 'usr/local/bin/gps-agent')).mode & 0o111, 0o111, 'wrapper is executable');

  // The installed tree runs (dependencies linked from this checkout).
  const app = join(root, 'opt/gps-agent');
  t.notOk(existsSync(join(app, 'test')), 'no tests installed');
  t.ok(existsSync(join(app, 'dist/gps-agent.mjs')), 'the agent is bundled');
  const help = await sh(process.execPath, [join(app, 'dist/gps-agent.mjs'), 'run', '--help']);
  t.equal(help.code, 0, 'the installed agent runs');
  t.match(help.stdout, /usage: npm run agent -- run/);

  // Again: idempotent, and the operator's settings survive.
  writeFileSync(envFile, 'DEVICE_ID=bike-42\n');
  const again = await sh('bash', [INSTALL, '--root', root, '--deps', 'link'], env);
  t.equal(again.code, 0, 'a second install exits 0');
  t.equal(readFileSync(envFile, 'utf8'), 'DEVICE_ID=bike-42\n', 'agent.env not overwritten');
  t.equal(readFileSync(join(root, 'etc/passwd'), 'utf8'), passwd, 'the user is not created twice');
});

t.test('DESTDIR works like --root, and bad options are refused', async (t) => {
  const root = tmp(t, 'install-destdir-');
  const r = await sh('bash', [INSTALL, '--deps', 'none'], { DESTDIR: root });
  t.match(r.stdout, /agent not bundled/, 'without dependencies it says it could not bundle');
  t.equal(r.code, 0, 'install exits 0');
  t.ok(existsSync(join(root, 'etc/systemd/system/gps-agent.service')));
  const bad = await sh('bash', [INSTALL, '--bogus']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown option --bogus/);
  const badDeps = await sh('bash', [INSTALL, '--root', root, '--deps', 'pip']);
  t.equal(badDeps.code, 2);
});
