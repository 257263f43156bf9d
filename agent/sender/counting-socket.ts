// A kafkajs socket factory (same as its default: TCP or TLS, keep-alive) that counts the bytes
// the client writes, so the agent can report what a fix costs on the wire (Kafka protocol bytes;
// TCP/IP and TLS framing come on top).
import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

const KEEP_ALIVE_MS = 60_000;

export function countingSocketFactory(onWrite: (bytes: number) => void): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      onWrite(typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength);
      return write(chunk, ...rest);
    }) as typeof socket.write;
    return socket;
  };
}
