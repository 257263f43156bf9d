// The GPS on its serial port, kept open whatever it does.
// - The device path does not exist (unplugged: USB removal deletes /dev/ttyUSB0 and its by-id
//   link): state "gps disconnected", and the path is checked every presenceCheckMs (a stat, cheap)
//   so a replug is opened within about that long. A backoff here cost a rider up to 30 s of
//   positions after a loose cable. fs.watch is not used: /dev/serial/by-id itself comes and goes
//   with the last USB serial device, and a watch on a removed directory never fires again.
// - The path exists but cannot be opened (permissions, busy) or the port goes away: state
//   "gps disconnected", reopen after a backoff that doubles from backoffMinMs up to backoffMaxMs,
//   back to the minimum once bytes flow again or the path disappears (a new device node is
//   worth trying at once). The path is still checked during the backoff: gone, or another device
//   node there (a replug faster than one check: devtmpfs makes a new inode), and it is tried now.
// - Logs: one warning when the GPS is lost (and one more only if the reason changes), one line
//   when the port is open again; the retries in between are debug, so a Pi left without its GPS
//   does not fill its SD card through journald.
// - No byte for silenceMs (receiver hung, cable half out): state "silent", close and reopen
//   the port (a USB-serial adapter often needs that); it stays "silent" until bytes arrive.
// - The device node disappearing (USB unplug removes /dev/ttyUSB0 and its by-id link) is
//   checked every presenceCheckMs. serialport itself does not always notice: on a hung-up tty
//   read() returns 0 and @serialport/bindings-cpp 13 retries that at once, forever, never
//   reporting a disconnect; the silence timeout is the last resort for that case.
// - Bytes that are not NMEA are skipped and counted by the framer; nothing here throws.
import { existsSync, statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from '../../shared/log.js';
import { defaultGpsPath } from './device-path.js';
import { IN_SERVICE_NOT_BEFORE } from './epoch.js';
import { createFramer } from './framer.js';
import { QueueSource } from './source.js';

export interface SerialSourceOptions {
  /** Device path; default: defaultGpsPath() (re-resolved at each reopen). */
  path?: string;
  /** Default 9600, what most NMEA receivers start at. */
  baudRate?: number;
  /** No byte for this long counts as silent; default 5000 ms. */
  silenceMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** How often to check that the device node exists (while open, and while waiting for a replug); default 1000 ms. */
  presenceCheckMs?: number;
  log?: Logger;
  /** Queue bound between port and consumer, in sentences. */
  maxQueue?: number;
}

export class SerialSource extends QueueSource {
  /** A receiver in service: no fix it gives can be older than this code (epoch.ts). */
  readonly notBefore = IN_SERVICE_NOT_BEFORE;
  private readonly fixedPath: string | undefined;
  private currentPath: string;
  private readonly baudRate: number;
  private readonly silenceMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly presenceCheckMs: number;
  private readonly log: Logger | undefined;
  private backoff: number;
  private port: SerialPort | undefined;
  /** The port whose open succeeded (losing it is a disconnect; failing to open one is not). */
  private openedPort: SerialPort | undefined;
  private framerInput: NodeJS.WritableStream | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** The reason last logged as a warning since the port was last open: repeats go to debug. */
  private loggedWhy: string | undefined;
  /** nodeId() of the device node that last failed to open or went away. */
  private failedNode: string | undefined;

  constructor(opts: SerialSourceOptions = {}) {
    super(opts.maxQueue);
    this.fixedPath = opts.path;
    this.currentPath = opts.path ?? defaultGpsPath();
    this.baudRate = opts.baudRate ?? 9600;
    this.silenceMs = opts.silenceMs ?? 5000;
    this.backoffMinMs = opts.backoffMinMs ?? 500;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.presenceCheckMs = opts.presenceCheckMs ?? 1000;
    if (!(this.presenceCheckMs > 0)) throw new RangeError('GPS presenceCheckMs must be > 0');
    this.backoff = this.backoffMinMs;
    this.log = opts.log;
    if (!Number.isInteger(this.baudRate) || this.baudRate <= 0)
      throw new RangeError(`GPS baud rate ${opts.baudRate} is not a positive integer`);
    if (this.silenceMs <= 0 || this.backoffMinMs <= 0 || this.backoffMaxMs < this.backoffMinMs)
      throw new RangeError('GPS silence and backoff times must be > 0, with backoffMaxMs >= backoffMinMs');
  }

  get name(): string {
    return this.currentPath;
  }

  /** Starts opening the port; returns at once (state events tell how it goes). */
  start(): this {
    this.open();
    return this;
  }

  private open(): void {
    if (this.closing) return;
    this.retryTimer = undefined;
    if (!this.fixedPath) this.currentPath = defaultGpsPath();
    if (!existsSync(this.currentPath)) {
      this.waitForDevice();
      return;
    }
    // Retries keep showing why we retry ("gps disconnected", "silent"), not "connecting".
    if (this.state === 'connecting') this.setState('connecting', this.currentPath);
    let port: SerialPort;
    try {
      port = new SerialPort({ path: this.currentPath, baudRate: this.baudRate, autoOpen: false });
    } catch (e) {
      // serialport validates its options synchronously; this runs from a timer, so never throw.
      const why = e instanceof Error ? e.message : String(e);
      this.counters.failedOpens++;
      this.setState('gps disconnected', why);
      this.scheduleReopen(this.backoffMaxMs);
      return;
    }
    this.port = port;
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      if (err) this.lost(port, err.message);
    });
    port.open((err) => {
      if (this.port !== port || this.closing) {
        // Closed (or given up on) while the open was in flight: do not leak the descriptor.
        if (!err) this.shut(port);
        return;
      }
      if (err) {
        this.lost(port, err.message);
        return;
      }
      this.counters.opens++;
      this.openedPort = port;
      this.loggedWhy = undefined;
      const framer = createFramer(this.counters, this.log);
      framer.output.on('data', (raw: Buffer) => {
        const line = framer.accept(raw);
        if (line) this.enqueue({ line, receivedAt: Date.now() });
      });
      this.framerInput = framer.input;
      port.on('data', (chunk: Buffer) => this.onData(port, chunk));
      if (this.state !== 'silent') this.setState('connected', this.currentPath);
      this.log?.info({ path: this.currentPath, baudRate: this.baudRate }, 'gps port open');
      this.armSilence(port);
      this.presenceTimer = setInterval(() => {
        if (this.port === port && !existsSync(this.currentPath))
          this.lost(port, `${this.currentPath} is gone (unplugged?)`);
      }, this.presenceCheckMs);
    });
  }

  private onData(port: SerialPort, chunk: Buffer): void {
    if (this.port !== port) return;
    this.counters.bytes += chunk.length;
    this.backoff = this.backoffMinMs;
    this.silenceTimer?.refresh();
    if (this.state !== 'connected') {
      this.setState('connected', this.currentPath);
      this.log?.info({ path: this.currentPath }, 'gps data flowing');
    }
    this.framerInput?.write(chunk);
  }

  private armSilence(port: SerialPort): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      if (this.port !== port || this.closing) return;
      this.counters.silences++;
      const detail = `no data for ${this.silenceMs} ms on ${this.currentPath}`;
      this.log?.warn({ path: this.currentPath }, `gps silent: ${detail}; reopening the port`);
      this.setState('silent', detail);
      this.drop(port);
      this.scheduleReopen(this.backoffMinMs);
    }, this.silenceMs);
  }

  /**
   * No device node at the path (unplugged): look again in presenceCheckMs, with no open attempt,
   * no backoff and no log line beyond the first.
   */
  private waitForDevice(): void {
    this.counters.absentChecks++;
    const why = `${this.currentPath} does not exist (unplugged?)`;
    this.report(why, this.presenceCheckMs, true);
    this.setState('gps disconnected', why);
    // Whatever failed before was another device node; the next one gets a quick first try.
    this.backoff = this.backoffMinMs;
    if (!this.closing && !this.retryTimer)
      this.retryTimer = setTimeout(() => this.open(), this.presenceCheckMs);
  }

  /**
   * One warning when the GPS is lost; after that only a new reason to fail an open (a device
   * back but not openable) is a warning. The path missing after a loss is what an unplug looks
   * like, so it is no news; repeats are debug.
   */
  private report(why: string, retryInMs: number, absent = false): void {
    const fields = { path: this.currentPath, err: why, retryInMs };
    const news = this.loggedWhy === undefined || (!absent && why !== this.loggedWhy);
    if (news) this.log?.warn(fields, 'gps disconnected');
    else this.log?.debug(fields, 'gps still disconnected');
    this.loggedWhy = why;
  }

  /** The port failed or went away: report, forget it, try again later. */
  private lost(port: SerialPort, why: string): void {
    if (this.port !== port || this.closing) return;
    if (this.openedPort === port) this.counters.disconnects++;
    else this.counters.failedOpens++;
    this.failedNode = nodeId(this.currentPath);
    this.report(why, this.backoff);
    this.setState('gps disconnected', why);
    this.drop(port);
    this.scheduleReopen(this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.backoffMaxMs);
  }

  private drop(port: SerialPort): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    clearInterval(this.presenceTimer);
    this.presenceTimer = undefined;
    this.port = undefined;
    this.framerInput?.end();
    this.framerInput = undefined;
    this.shut(port);
  }

  private shut(port: SerialPort): void {
    port.removeAllListeners('data');
    if (port.isOpen) port.close(() => {});
  }

  /**
   * Reopens after `ms`, or as soon as a presence check finds the path gone or changed (then
   * open() waits for the device instead): a replug during a long backoff is not waited out.
   * performance.now(), not Date.now(): NTP setting a Pi's clock must not stretch the wait.
   */
  private scheduleReopen(ms: number): void {
    if (this.closing || this.retryTimer) return;
    const due = performance.now() + ms;
    const check = () => {
      this.retryTimer = undefined;
      const left = due - performance.now();
      const path = this.fixedPath ?? defaultGpsPath();
      const node = nodeId(path);
      if (left <= 0 || path !== this.currentPath || node === undefined || node !== this.failedNode)
        this.open();
      else this.retryTimer = setTimeout(check, Math.min(left, this.presenceCheckMs));
    };
    this.retryTimer = setTimeout(check, Math.min(ms, this.presenceCheckMs));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    clearInterval(this.presenceTimer);
    const port = this.port;
    this.port = undefined;
    this.framerInput?.end();
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.setState('closed');
    this.finish();
  }
}

/** Which device node a path leads to now (through by-id symlinks), or undefined when none. */
function nodeId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.rdev}`;
  } catch {
    return undefined;
  }
}

export function openSerialSource(opts: SerialSourceOptions = {}): SerialSource {
  return new SerialSource(opts).start();
}
