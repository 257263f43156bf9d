// `agent status`: what the agent is doing, read from its outbox file (read-only, so it works
// while the service runs): GPS state, age of the last fix, backlog, Kafka link, drops.
import { existsSync } from 'node:fs';
import { loadConfig } from '../../shared/config.js';
import { bootMonotonicMs } from '../../shared/monotonic.js';
import { bootId, isAlive } from '../../shared/process-identity.js';
import { agentSpec } from '../config.js';
import { type DeviceStats, readAgentState, readDeviceStats } from '../outbox/outbox.js';
import { OutboxOpenError, openOutboxDb } from '../outbox/schema.js';
import { type AgentState, type GpsState, STATE_EVERY_MS } from '../pipeline.js';
import type { DiskState, SenderState, SenderStats } from '../sender/sender.js';
import { type Command, parseCommandArgs } from './command.js';

const help = `usage: npm run agent -- status [--db PATH] [--json]

Shows the running agent's state from its outbox file: whether it runs, the GPS (port state,
fix or not, age of the last fix), the backlog (rows, bytes, age of the oldest), the Kafka link,
the outbox's own failures (the local disk, told apart from Kafka's) and the fixes dropped because
the outbox was full. Exit code 0 when the agent runs, GPS has a fix
and Kafka is connected; 1 otherwise (so it can serve as a health check); 2 on a usage error.

options:
  --db PATH    outbox file (default: AGENT_DB, or $STATE_DIRECTORY/outbox.db, or ./outbox.db)
  --json       one JSON object instead of text
  -h, --help   this text`;

/**
 * A heartbeat older than this is a stopped agent when it cannot be told whether its process runs
 * (no /proc, a state from an agent without a recorded start time), and an unhealthy one otherwise.
 */
const STALE_MS = STATE_EVERY_MS * 3;
/**
 * "fix" with no new fix for longer than this is no fix: the GPS state changes only on a no-fix
 * epoch or a silent/unplugged port, so a receiver sending junk (a wrong baud rate) or only
 * satellite sentences kept "fix" and exit 0 while no position came (the state is written every
 * 5 s, hence the margin).
 */
const FIX_STALE_MS = STATE_EVERY_MS * 3;

export interface StatusReport {
  db: string;
  running: boolean;
  pid: number | null;
  /** Whether that process is still the agent that wrote the state; null: cannot tell (see running). */
  alive: boolean | null;
  memory: AgentState['memory'] | null;
  heartbeatAgeMs: number | null;
  gps: (GpsState & { lastFixAgeMs: number | null }) | null;
  /** The Kafka link alone: a local disk failure is in `disk`, not here. */
  kafka: (Omit<SenderState, 'disk'> & { stats?: SenderStats; lastAckAgeMs: number | null }) | null;
  /** The outbox (local disk) as the sender met it; null: never failed, or an agent that did not say. */
  disk: (DiskState & { lastErrorAgeMs: number | null }) | null;
  devices: (DeviceStats & { lastFixAgeMs: number | null; oldestPendingAgeMs: number | null })[];
  backlog: { rows: number; bytes: number; oldestAgeMs: number | null };
  dropped: { count: number };
  healthy: boolean;
}

export function readStatus(db: string, now = Date.now(), mono = bootMonotonicMs()): StatusReport {
  const conn = openOutboxDb(db, { readonly: true });
  try {
    const state = readAgentState(conn);
    const agent = state['agent']?.value as AgentState | undefined;
    const gps = state['gps']?.value as GpsState | undefined;
    // The age of a moment the agent stored. The wall clock jumps (NTP stepping a Pi's clock a
    // month forward made a running agent's heartbeat "30 days" old, and a step back made a hung
    // agent's look fresh): CLOCK_MONOTONIC, shared by the processes of one boot, does not, so it
    // decides whenever the agent recorded it in this boot.
    const sameBoot = agent?.bootId !== undefined && agent.bootId === bootId();
    const monoAge = (monoAt: number | null | undefined) =>
      sameBoot && typeof monoAt === 'number' ? mono - monoAt : null;
    const ageOf = (wallAt: number, monoAt: number | null | undefined) => monoAge(monoAt) ?? now - wallAt;
    // The agent's one device: its row's age, checked against the last fix's monotonic age.
    const gpsMonoAgeMs = monoAge(gps?.lastFixMono);
    const gpsFixAgeMs = gps?.lastFixAt == null ? null : ageOf(gps.lastFixAt, gps.lastFixMono);
    const devices = readDeviceStats(conn).map((d) => {
      const lastFixAgeMs = d.lastFixAt === null ? null : deviceFixAge(now - d.lastFixAt, gpsMonoAgeMs);
      // The oldest fix's age on the GNSS timeline, carried forward by the wall clock since the
      // newest fix: right even when the Pi's clock (no RTC) is off.
      const oldestPendingAgeMs =
        d.oldestPendingTime === null || d.lastFixTime === null || lastFixAgeMs === null
          ? null
          : d.lastFixTime - d.oldestPendingTime + lastFixAgeMs;
      return { ...d, lastFixAgeMs, oldestPendingAgeMs };
    });
    const heartbeatAgeMs = agent ? ageOf(agent.heartbeatAt, agent.heartbeatMono) : null;
    const fresh = heartbeatAgeMs !== null && heartbeatAgeMs < STALE_MS;
    // The process itself is the better witness: the heartbeat said "running" for 15 s after a
    // kill -9. The heartbeat decides only when the process cannot be checked.
    const alive = agent && agent.stoppedAt === null ? (isAlive(agent) ?? null) : null;
    const running = !!agent && agent.stoppedAt === null && (alive ?? fresh);
    const kafka = state['kafka']?.value as (SenderState & { stats?: SenderStats }) | undefined;
    const ages = devices.map((d) => d.oldestPendingAgeMs).filter((a): a is number => a !== null);
    const report: StatusReport = {
      db,
      running,
      pid: agent?.pid ?? null,
      alive,
      memory: agent?.memory ?? null,
      heartbeatAgeMs,
      // The newest fix stored is the better witness than the GPS state's own lastFixAt, which is
      // written every 5 s (it lagged: 'last fix 5 s ago' on the gps line, 0 s on the device's).
      gps: gps
        ? {
            ...gps,
            lastFixAgeMs: freshest([gpsFixAgeMs, ...devices.map((d) => d.lastFixAgeMs)]),
          }
        : null,
      kafka: kafka
        ? {
            ...kafkaLink(kafka),
            lastAckAgeMs: kafka.lastAckAt === null ? null : ageOf(kafka.lastAckAt, kafka.lastAckMono),
          }
        : null,
      disk:
        kafka?.disk && kafka.disk.failures > 0
          ? {
              ...kafka.disk,
              lastErrorAgeMs: kafka.disk.lastErrorAt === null ? null : now - kafka.disk.lastErrorAt,
            }
          : null,
      devices,
      backlog: {
        rows: devices.reduce((n, d) => n + d.pendingRows, 0),
        bytes: devices.reduce((n, d) => n + d.pendingBytes, 0),
        oldestAgeMs: ages.length ? Math.max(...ages) : null,
      },
      dropped: { count: devices.reduce((n, d) => n + d.droppedCount, 0) },
      healthy: false,
    };
    const fixNow =
      gps?.fix === 'fix' && report.gps!.lastFixAgeMs !== null && report.gps!.lastFixAgeMs <= FIX_STALE_MS;
    report.healthy = running && fresh && fixNow && kafka?.connected === true;
    return report;
  } finally {
    conn.close();
  }
}

/**
 * A device row's last fix age (wall clock, stored with every fix, so fresher than the GPS state
 * written every 5 s) where it can be believed: not negative, and not older than the monotonic age
 * of the last fix the agent reported (a clock step in between makes it either). Else that one.
 */
function deviceFixAge(wallAge: number, monoAge: number | null): number | null {
  if (monoAge === null) return wallAge;
  return wallAge >= 0 && wallAge <= monoAge ? wallAge : monoAge;
}

/** The sender's state without its disk part, which is reported on its own. */
function kafkaLink<T extends { disk?: unknown }>(s: T): Omit<T, 'disk'> {
  const { disk: _, ...link } = s;
  return link;
}

/** The smallest of the ages known, or null. */
function freshest(ages: readonly (number | null)[]): number | null {
  const known = ages.filter((a): a is number => a !== null);
  return known.length ? Math.min(...known) : null;
}

function age(ms: number | null): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86_400).toFixed(1)} days ago`;
}

/** A live agent whose state is old cannot write its outbox (or hangs): what is shown is old too. */
function staleNote(r: StatusReport): string {
  if (r.heartbeatAgeMs === null || r.heartbeatAgeMs < STALE_MS) return '';
  return `, but its state was last written ${age(r.heartbeatAgeMs)}: the outbox cannot be written, or the agent hangs`;
}

const fixes = (n: number) => (n === 1 ? '1 fix' : `${n} fixes`);

function bytes(n: number): string {
  if (n < 10_000) return `${n} B`;
  if (n < 10_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

export function formatStatus(r: StatusReport): string {
  const lines = [
    `agent:    ${r.running ? `running (pid ${r.pid}${r.memory ? `, ${r.memory.rssMb} MB RSS` : ''})${staleNote(r)}` : r.pid === null ? 'never ran on this file' : `not running (last seen ${age(r.heartbeatAgeMs)})`}`,
  ];
  if (r.gps) {
    lines.push(
      `gps:      ${r.gps.source}: ${r.gps.state}${r.gps.detail ? ` (${r.gps.detail})` : ''}, ${
        r.gps.fix === 'fix' && (r.gps.lastFixAgeMs === null || r.gps.lastFixAgeMs > FIX_STALE_MS)
          ? 'no new fix'
          : r.gps.fix
      }; last fix ${age(r.gps.lastFixAgeMs)}`,
    );
    const n = r.gps.nmea;
    if (n) {
      lines.push(
        `nmea:     ${n.sentences} sentences; skipped ${n.badChecksums} bad checksums, ${n.skippedLines} junk lines (${bytes(n.skippedBytes)}), ${n.overlongLines} overlong; ${n.disconnects} disconnects, ${n.failedOpens ?? 0} failed opens, ${n.silences} silences`,
      );
    }
  } else lines.push('gps:      unknown');
  if (r.kafka) {
    const k = r.kafka;
    // The link's state is written every STATE_EVERY_MS, not at each ack: a connected agent may
    // have had acks since (it read "3 s ago" while acks came every second), so that age is a bound.
    const bound = r.running && k.connected && k.lastAckAgeMs !== null ? 'at most ' : '';
    lines.push(
      `kafka:    ${k.connected ? 'connected' : `disconnected (${k.attempt} failed attempts${k.lastError ? `: ${k.lastError}` : ''})`}; last ack ${bound}${age(k.lastAckAgeMs)}`,
    );
  } else lines.push('kafka:    unknown');
  if (r.disk) {
    const d = r.disk;
    lines.push(
      d.error !== null
        ? `disk:     the outbox fails (${d.failures} failures): ${d.error}`
        : `disk:     ok; the outbox failed ${d.failures} times, last ${age(d.lastErrorAgeMs)}: ${d.lastError}`,
    );
  }
  // A stopped agent's gps, kafka and disk lines are what it last wrote, not what is true now:
  // "kafka: connected" 16 s after a kill -9 read as if it still were.
  if (!r.running && r.pid !== null) {
    const when = ` [when it stopped, ${age(r.heartbeatAgeMs)}]`;
    for (let i = 1; i < lines.length; i++) if (/^(gps|kafka|disk): /.test(lines[i]!)) lines[i] += when;
  }
  lines.push(
    `backlog:  ${fixes(r.backlog.rows)}, ${bytes(r.backlog.bytes)}, oldest ${r.backlog.oldestAgeMs === null ? '-' : age(r.backlog.oldestAgeMs)}`,
  );
  lines.push(
    `dropped:  ${fixes(r.dropped.count)} (outbox full, or positions that came while it could not be written)`,
  );
  for (const d of r.devices) {
    lines.push(
      `  ${d.deviceId}: next seq ${d.nextSeq}, ${d.pendingRows} unsent, last fix ${age(d.lastFixAgeMs)}` +
        (d.droppedCount ? `, ${d.droppedCount} dropped through seq ${d.droppedThrough}` : ''),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs('status', args, {
    help: { type: 'boolean', short: 'h' },
    db: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const db = values.db ?? loadConfig({ AGENT_DB: agentSpec.AGENT_DB }).AGENT_DB;
  const setting = values.db === undefined ? 'AGENT_DB' : '--db';
  let report: StatusReport;
  try {
    // Not a usage error (exit 2): the command is right, there is no agent's outbox there (exit 1,
    // naming the file and the setting, as for an outbox that cannot be opened).
    if (!existsSync(db)) throw new OutboxOpenError(db, 'it does not exist (no agent has run with it)');
    report = readStatus(db);
  } catch (e) {
    if (e instanceof OutboxOpenError) throw e.naming('status', setting);
    throw e;
  }
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatStatus(report));
  return report.healthy ? 0 : 1;
}

export const command: Command = {
  name: 'status',
  summary: "show the agent's GPS, backlog, Kafka link and drops (works while it runs)",
  help,
  run,
};
