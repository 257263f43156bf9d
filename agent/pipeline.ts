// One device's pipeline: NMEA source -> one fix a second (agent/gps) -> outbox -> sender -> Kafka.
// Also keeps the agent_state rows `agent status` reads, and says whether it is healthy
// (the systemd watchdog is fed only while it is).
import type { Position } from '../shared/fix.js';
import type { Logger } from '../shared/log.js';
import { bootMonotonicMs, monotonicMs } from '../shared/monotonic.js';
import { ownIdentity } from '../shared/process-identity.js';
import { gpsEvents } from './gps/positions.js';
import type { NmeaSource, SourceCounters, SourceState } from './gps/source.js';
import type { Outbox } from './outbox/outbox.js';
import type { Sender, SenderState } from './sender/sender.js';

/** What `agent status` shows about the GPS. */
export interface GpsState {
  source: string;
  state: SourceState;
  detail: string | null;
  /** 'fix' or why not ('no fix', 'no position', 'no date'). */
  fix: string;
  fixes: number;
  noFixes: number;
  rejected: number;
  lastFixAt: number | null;
  /**
   * bootMonotonicMs() when the last fix was stored: `status` takes the fix's age from this when
   * it runs in the same boot, since lastFixAt (wall clock) is off by any clock step since then.
   */
  lastFixMono?: number | null;
  /** What the source skipped and counted: junk bytes, bad checksums, reconnects (never fatal). */
  nmea?: Readonly<SourceCounters>;
}

export interface AgentState {
  pid: number;
  /**
   * Boot id and start time of the process (shared/process-identity.ts): `status` asks whether
   * that process still runs, so a kill -9 shows at once rather than when the heartbeat is old,
   * and a pid reused by another process (or from before a reboot) does not count.
   */
  bootId?: string | undefined;
  startTicks?: number | undefined;
  startedAt: number;
  /**
   * Refreshed every STATE_EVERY_MS while running. Old, with the process gone or its liveness
   * unknown: stopped; old with the process alive: running but not writing its state (a full card).
   */
  heartbeatAt: number;
  /** bootMonotonicMs() at the same moment: the heartbeat's age for `status`, immune to clock steps. */
  heartbeatMono?: number;
  stoppedAt: number | null;
  /** process.memoryUsage() in MB, for status and the bench. */
  memory?: { rssMb: number; heapUsedMb: number; externalMb: number };
}

export const STATE_EVERY_MS = 5000;

/** This process's memory for the 'agent' state row, in MB to one decimal. */
/** The state row of an agent process (the service or the simulator) starting now. */
export function startingAgentState(): AgentState {
  const now = Date.now();
  return {
    ...ownIdentity(),
    startedAt: now,
    heartbeatAt: now,
    heartbeatMono: bootMonotonicMs(),
    stoppedAt: null,
  };
}

/**
 * Marks the state row alive now, on both clocks: the wall clock for people, the boot's monotonic
 * clock for `status`'s ages, which a clock step must not move. With the memory figures.
 */
export function heartbeat(agent: AgentState): void {
  agent.heartbeatAt = Date.now();
  agent.heartbeatMono = bootMonotonicMs();
  agent.memory = memoryMb();
}

function memoryMb(): NonNullable<AgentState['memory']> {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 104857.6) / 10;
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external) };
}
/** The sender loop steps at least every 30 s (its backoff cap) + a request timeout. */
const SENDER_STUCK_MS = 60_000;
/** Fixes kept in memory while the outbox cannot be written (10 minutes at 1 Hz). */
const MAX_UNCOMMITTED = 600;

export interface PipelineOptions {
  deviceId: string;
  source: NmeaSource;
  outbox: Outbox;
  sender: Sender;
  log: Logger;
  /**
   * Group commit: store the fixes of this many ms in one transaction (fewer SD-card writes, see
   * bench/agent.ts disk figures). 0 (default) commits every fix at once: nothing is ever only in
   * memory, and the live view is not delayed.
   */
  commitMs?: number;
}

export class AgentPipeline {
  readonly gps: GpsState;
  private readonly agent: AgentState;
  private loopError: string | null = null;
  private outboxError: string | null = null;
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly uncommitted: { position: Position; receivedAt: number }[] = [];
  /** Positions let go while the outbox could not be written (beyond MAX_UNCOMMITTED): their seqs are taken as dropped at the next commit. */
  private unstored = 0;
  private commitTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PipelineOptions) {
    this.gps = {
      source: opts.source.name,
      state: opts.source.state,
      detail: null,
      fix: 'no fix',
      fixes: 0,
      noFixes: 0,
      rejected: 0,
      lastFixAt: null,
      lastFixMono: null,
    };
    this.agent = startingAgentState();
  }

  /** Starts reading and sending; the promise ends when the source ends (a replay) or on stop(). */
  start(): Promise<void> {
    const { source, sender, outbox, log } = this.opts;
    source.on('state', this.onSourceState);
    sender.onState((s) => this.publishKafka(s));
    sender.start();
    this.publishAll();
    this.timer = setInterval(() => this.publishAll(), STATE_EVERY_MS);
    this.timer.unref();
    outbox.on('flushError', (e) => {
      this.outboxError = e.message;
      log.error({ err: e.message }, 'outbox commit failed');
    });
    outbox.on('drop', (d) =>
      log.warn(
        d,
        d.why === 'unstored'
          ? 'positions that came while the outbox could not be written were let go; their seqs are recorded as dropped'
          : 'outbox full: oldest unsent fixes dropped (the cloud will see droppedThrough)',
      ),
    );
    this.running = this.consume().catch((e: unknown) => {
      this.loopError = e instanceof Error ? e.message : String(e);
      log.error({ err: this.loopError }, 'GPS pipeline stopped on an error');
    });
    return this.running;
  }

  /** null when healthy, else why not: the watchdog stops being fed. */
  health(): string | null {
    if (this.loopError) return `GPS pipeline failed: ${this.loopError}`;
    if (this.outboxError) return `outbox write failed: ${this.outboxError}`;
    // On the monotonic clock, as the sender stamps it: a wall-clock step is not time the sender
    // spent stuck (a forward step starved the watchdog of a healthy agent), and a step back must
    // not hide a sender that really is stuck.
    const stuck = monotonicMs() - this.opts.sender.lastProgressAt;
    if (stuck > SENDER_STUCK_MS) return `sender has not moved for ${Math.round(stuck / 1000)} s`;
    return null;
  }

  /** Positions read but not stored yet: the outbox could not be written (a full card). */
  get held(): number {
    return this.uncommitted.length;
  }

  /**
   * Clean stop (SIGTERM): close the source, let the sender finish its request in flight, and
   * commit the outbox. Everything not acknowledged stays in the outbox for the next start.
   * Positions the outbox still cannot take (the card still full) are lost, with no seq: said in
   * the log, the only place left to say it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { source, sender, outbox, log } = this.opts;
    if (this.timer) clearInterval(this.timer);
    await source.close();
    await this.running;
    const held = this.uncommitted;
    if (held.length + this.unstored > 0) {
      log.error(
        {
          lost: held.length + this.unstored,
          held: held.length,
          unstored: this.unstored,
          from: held[0] && new Date(held[0].position.time).toISOString(),
          to: held.at(-1) && new Date(held.at(-1)!.position.time).toISOString(),
          err: this.outboxError,
        },
        'stopping with positions the outbox could not store: they are lost, with no seq',
      );
    }
    await sender.stop();
    this.agent.stoppedAt = Date.now();
    this.publishAll();
    outbox.close();
  }

  private async consume(): Promise<void> {
    const { source, log } = this.opts;
    const commitMs = this.opts.commitMs ?? 0;
    // Sentences read before an unplug can still be in the queue when the source says it is
    // gone: their fixes are stored all the same, but they say nothing of the receiver now, so
    // they leave "no fix: gps disconnected" as it is (status flapped fix / no fix after an unplug).
    const receiverDown = () => source.state === 'silent' || source.state === 'gps disconnected';
    for await (const ev of gpsEvents(source, { log, notBefore: source.notBefore })) {
      if (ev.kind === 'nofix') {
        this.gps.noFixes++;
        if (!receiverDown()) this.setFix(ev.reason);
        continue;
      }
      if (!receiverDown()) this.setFix('fix');
      this.uncommitted.push({ position: ev.position, receivedAt: ev.receivedAt });
      if (commitMs <= 0) this.commit();
      else this.commitTimer ??= setTimeout(() => this.commit(), commitMs);
    }
    this.commit();
  }

  /** Stores the fixes read since the last commit, in one transaction. */
  private commit(): void {
    const { outbox, deviceId, log } = this.opts;
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    const batch = this.uncommitted.splice(0);
    if (batch.length === 0) return;
    try {
      const lost = this.unstored > 0 ? new Map([[deviceId, this.unstored]]) : undefined;
      const r = outbox.appendMany(
        batch.map((b) => ({ deviceId, position: b.position })),
        lost,
      );
      this.unstored = 0;
      this.outboxError = null;
      for (const x of r.rejected) {
        this.gps.rejected++;
        log.warn({ reason: x.reason, position: x.position }, 'position rejected, not stored');
      }
      this.gps.fixes += r.stored.length;
      this.gps.lastFixAt = batch.at(-1)!.receivedAt;
      this.gps.lastFixMono = bootMonotonicMs();
    } catch (e) {
      // Disk full, card gone read-only...: keep the fixes (up to MAX_UNCOMMITTED) and try again
      // with the next one; meanwhile the watchdog is not fed.
      this.outboxError = e instanceof Error ? e.message : String(e);
      const kept = batch.slice(-MAX_UNCOMMITTED);
      this.unstored += batch.length - kept.length;
      log.error(
        { err: this.outboxError, waiting: kept.length, unstored: this.unstored },
        'outbox write failed',
      );
      this.uncommitted.unshift(...kept);
    }
  }

  private readonly onSourceState = (state: SourceState, detail: string | undefined) => {
    this.gps.state = state;
    this.gps.detail = detail ?? null;
    this.opts.log.info({ source: this.gps.source, state, detail }, 'GPS source state');
    // A receiver unplugged or gone quiet gives no fix, whatever its last epoch said: `status`
    // must not report one (the next fix read sets it back).
    if (state === 'silent' || state === 'gps disconnected') this.setFix(`no fix: ${state}`);
    this.opts.outbox.setState('gps', this.gps);
  };

  private setFix(fix: string): void {
    if (fix === this.gps.fix) return;
    this.opts.log.info({ from: this.gps.fix, to: fix }, 'GPS fix state');
    this.gps.fix = fix;
    this.opts.outbox.setState('gps', this.gps);
  }

  private publishKafka(s: SenderState): void {
    this.opts.outbox.setState('kafka', { ...s, stats: this.opts.sender.stats });
  }

  private publishAll(): void {
    heartbeat(this.agent);
    const { outbox, sender } = this.opts;
    outbox.setState('agent', this.agent);
    outbox.setState('gps', { ...this.gps, nmea: this.opts.source.counters });
    this.publishKafka(sender.state);
    // Positions held after a failed commit are otherwise retried only with the next fix, which
    // may never come (the replay ended, no fix indoors).
    if (this.uncommitted.length > 0 && !this.commitTimer && !this.stopped) this.commit();
    // With a fix every second the state rides on the next append; otherwise commit it now.
    if (this.gps.fix !== 'fix' || this.stopped) {
      try {
        outbox.flush();
      } catch (e) {
        this.outboxError = e instanceof Error ? e.message : String(e);
      }
    }
  }
}
