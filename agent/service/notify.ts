// sd_notify for Type=notify and WatchdogSec: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1.
//
// Node cannot send on a unix datagram socket, so this runs `systemd-notify` (shipped with
// systemd, so present wherever the unit runs) and the unit says NotifyAccess=all. We never pass
// --no-block: without it systemd-notify waits on a barrier until systemd has read the message,
// which matters because systemd attributes a message by the sender's cgroup and cannot do that
// once a short-lived sender has exited. Without NOTIFY_SOCKET (not under systemd) all is a no-op.
import { execFile } from 'node:child_process';
import type { Logger } from '../../shared/log.js';

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** The systemd-notify binary (tests may point elsewhere). */
  binary?: string;
}

export class SystemdNotifier {
  readonly enabled: boolean;
  /** Watchdog interval systemd asked for (WATCHDOG_USEC), ms; undefined when there is none. */
  readonly watchdogMs: number | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly binary: string;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly opts: NotifierOptions = {}) {
    this.env = opts.env ?? process.env;
    this.binary = opts.binary ?? 'systemd-notify';
    this.enabled = !!this.env['NOTIFY_SOCKET'];
    const usec = Number(this.env['WATCHDOG_USEC']);
    const pid = this.env['WATCHDOG_PID'];
    // WATCHDOG_PID names the process the watchdog is meant for; a child that inherited it is not.
    const forUs = pid === undefined || pid === '' || Number(pid) === process.pid;
    this.watchdogMs = this.enabled && forUs && usec > 0 ? usec / 1000 : undefined;
  }

  ready(status?: string): Promise<void> {
    return this.send(['--ready', ...(status ? [`--status=${status}`] : [])]);
  }

  status(text: string): Promise<void> {
    return this.send([`--status=${text}`]);
  }

  watchdog(): Promise<void> {
    // One ping at a time: if systemd is slow to answer the barrier, skip rather than pile up.
    if (this.inFlight) return this.inFlight;
    return this.send(['WATCHDOG=1']);
  }

  stopping(): Promise<void> {
    return this.send(['STOPPING=1']);
  }

  private send(args: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const p = new Promise<void>((resolve) => {
      execFile(this.binary, args, { env: this.env, timeout: 10_000 }, (err, _out, stderr) => {
        if (err) this.opts.log?.warn({ args, err: (stderr || err.message).trim() }, 'systemd-notify failed');
        resolve();
      });
    });
    this.inFlight = p;
    void p.then(() => {
      if (this.inFlight === p) this.inFlight = null;
    });
    return p;
  }
}
