// The GPS on its serial port, kept open whatever it does.
// - Open fails or the port goes away (unplugged): state "gps disconnected", reopen after a
//   backoff that doubles from backoffMinMs up to backoffMaxMs, back to the minimum once bytes
//   flow again.
// - No byte for silenceMs (receiver hung, cable half out): state "silent", close and reopen
//   the port (a USB-serial adapter often needs that); it stays "silent" until bytes arrive.
// - The device node disappearing (USB unplug removes /dev/ttyUSB0 and its by-id link) is
//   checked every presenceCheckMs. serialport itself does not always notice: on a hung-up tty
//   read() returns 0 and @serialport/bindings-cpp 13 retries that at once, forever, never
//   reporting a disconnect; the silence timeout is the last resort for that case.
// - Bytes that are not NMEA are skipped and counted by the framer; nothing here throws.
import { existsSync } from 'node:fs';
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
  /** How often to check that the device node still exists; default 1000 ms. */
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
  private framerInput: NodeJS.WritableStream | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(opts: SerialSourceOptions = {}) {
    super(opts.maxQueue);
    this.fixedPath = opts.path;
    this.currentPath = opts.path ?? defaultGpsPath();
    this.baudRate = opts.baudRate ?? 9600;
    this.silenceMs = opts.silenceMs ?? 5000;
    this.backoffMinMs = opts.backoffMinMs ?? 500;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.presenceCheckMs = opts.presenceCheckMs ?? 1000;
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
    // Retries keep showing why we retry ("gps disconnected", "silent"), not "connecting".
    if (this.state === 'connecting') this.setState('connecting', this.currentPath);
    let port: SerialPort;
    try {
      port = new SerialPort({ path: this.currentPath, baudRate: this.baudRate, autoOpen: false });
    } catch (e) {
      // serialport validates its options synchronously; this runs from a timer, so never throw.
      const why = e instanceof Error ? e.message : String(e);
      this.counters.disconnects++;
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

  /** The port failed or went away: report, forget it, try again later. */
  private lost(port: SerialPort, why: string): void {
    if (this.port !== port || this.closing) return;
    this.counters.disconnects++;
    this.log?.warn({ path: this.currentPath, err: why, retryInMs: this.backoff }, 'gps disconnected');
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

  private scheduleReopen(ms: number): void {
    if (this.closing || this.retryTimer) return;
    this.retryTimer = setTimeout(() => this.open(), ms);
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

export function openSerialSource(opts: SerialSourceOptions = {}): SerialSource {
  return new SerialSource(opts).start();
}
