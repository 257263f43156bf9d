// Kafka framing: each request is an int32 size followed by that many bytes. Chunks from the
// socket are kept in a list and joined only when a whole frame is present, so a large frame
// arriving in many chunks is copied once. A size below the smallest possible header or above
// the configured maximum is a FrameError: the connection is closed without reading further.

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** api_key int16 + api_version int16 + correlation_id int32 + client_id length int16. */
export const MIN_REQUEST_HEADER = 10;

/**
 * Whether a frame's first four bytes are the start of a TLS record rather than a size: content
 * type 22 (handshake), then version 3.x (SSL 3.0 to TLS 1.3 all write 0x03 0x00..0x04). A client
 * set to TLS sends its ClientHello first, read as a size of some 369 million bytes (0x16030101):
 * "exceeds the maximum" sent its operator looking for a huge request.
 */
function looksLikeTls(size: number): boolean {
  return size >>> 24 === 0x16 && ((size >>> 16) & 0xff) === 0x03 && ((size >>> 8) & 0xff) <= 0x04;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /**
   * Smallest frame accepted. A SASL listener lowers it until the login is done: after a v0
   * SaslHandshake the client sends bare tokens, which can be shorter than a request header.
   */
  minFrameBytes = MIN_REQUEST_HEADER;

  /** Largest frame accepted; a SASL listener keeps it small until the login is done. */
  constructor(public maxFrameBytes: number) {}

  /** Add socket bytes; returns the complete frames (without the size prefix) now available. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const size = this.peekSize();
      if (size < this.minFrameBytes) throw new FrameError(`request size ${size} is below the minimum header`);
      if (size > this.maxFrameBytes) {
        if (looksLikeTls(size)) {
          throw new FrameError(
            `looks like a TLS handshake on a plaintext listener (is the client set to TLS?): first bytes 0x${(size >>> 0).toString(16)}`,
          );
        }
        throw new FrameError(`request size ${size} exceeds the maximum of ${this.maxFrameBytes} bytes`);
      }
      if (this.buffered < 4 + size) break;
      frames.push(this.take(4 + size).subarray(4));
    }
    return frames;
  }

  private peekSize(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.chunks, Math.min(this.buffered, 4));
    this.chunks = [Buffer.concat(this.chunks)];
    return head.readInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
