// The group wire tests' client: RawClient (broker-raw.ts) with the request body written by a
// callback, the flexible response header (v1: tagged fields) read before the caller sees the body,
// and a pending request rejected when the broker closes the connection (a malformed request
// costs its connection; the tests assert that as a rejection).
import { type Reader, Writer } from '../../broker/protocol/codec.js';
import { RawClient } from './broker-raw.js';

const CLOSED = 'connection closed by the broker';

export class WireClient {
  private isClosed = false;
  readonly closed: Promise<void>;

  private constructor(private readonly raw: RawClient) {
    this.closed = raw.closed.then(() => {
      this.isClosed = true;
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new WireClient(await RawClient.connect(port, host, 'wire-test'));
  }

  /** Sends one request; resolves with a Reader at the response body, rejects if the connection closes. */
  request(
    apiKey: number,
    version: number,
    body: (w: Writer) => void,
    opts: { flexible?: boolean } = {},
  ): Promise<Reader> {
    if (this.isClosed) return Promise.reject(new Error(CLOSED));
    const w = new Writer();
    body(w);
    const closed = this.closed.then((): never => {
      throw new Error(CLOSED);
    });
    return Promise.race([this.raw.request(apiKey, version, w, opts.flexible), closed]).then((r) => {
      if (opts.flexible) r.taggedFields(); // response header v1
      return r;
    });
  }

  close(): void {
    this.raw.close();
  }
}
