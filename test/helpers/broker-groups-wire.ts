// A bare Kafka wire client for tests that must send exactly the bytes they mean (malformed bodies,
// garbage ids, specific API versions) and read raw responses. Request header v1 and response
// header v0, or v2 and v1 (tagged fields after them) for flexible versions.
import { connect, type Socket } from 'node:net';
import { Reader, Writer } from '../../broker/protocol/codec.js';

export class WireClient {
  private buf = Buffer.alloc(0);
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reader) => void>();
  private closedError: Error | null = null;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const size = this.buf.readInt32BE(0);
        const frame = this.buf.subarray(4, 4 + size);
        this.buf = this.buf.subarray(4 + size);
        const r = new Reader(frame);
        const id = r.int32();
        this.waiting.get(id)?.(r);
        this.waiting.delete(id);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError = new Error('connection closed by the broker');
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new WireClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends one request; resolves with a Reader at the response body, rejects if the connection closes. */
  request(
    apiKey: number,
    version: number,
    body: (w: Writer) => void,
    opts: { flexible?: boolean; clientId?: string } = {},
  ): Promise<Reader> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const w = new Writer();
    w.int32(0)
      .int16(apiKey)
      .int16(version)
      .int32(id)
      .nullableString(opts.clientId ?? 'wire-test');
    if (opts.flexible) w.taggedFields();
    body(w);
    const frame = Buffer.from(w.toBuffer());
    frame.writeInt32BE(frame.length - 4, 0);
    return new Promise<Reader>((resolve, reject) => {
      this.waiting.set(id, (r) => {
        if (opts.flexible) r.taggedFields(); // response header v1
        resolve(r);
      });
      void this.closed.then(() => {
        if (this.waiting.delete(id)) reject(new Error('connection closed by the broker'));
      });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
