// The sender's own reads and writes of the outbox, told apart from Kafka's failures. A full or
// failing SD card (SQLITE_FULL, SQLITE_IOERR, EFBIG under a file-size limit) when deleting the
// rows Kafka acknowledged was reported as "Kafka unreachable": the producer was thrown away, the
// link shown down, and `agent status` sent the rider's support to the network, not the card.

/** An outbox operation the sender made failed: the local disk, not Kafka. */
export class OutboxIoError extends Error {
  constructor(cause: unknown) {
    const e = cause instanceof Error ? cause : undefined;
    // better-sqlite3's code (SQLITE_FULL, SQLITE_IOERR_WRITE) says more than its message.
    const code = (e as { code?: unknown } | undefined)?.code;
    super(`${e?.message ?? String(cause)}${typeof code === 'string' ? ` (${code})` : ''}`, { cause });
    this.name = 'OutboxIoError';
  }
}

/** Runs an outbox operation; whatever it throws is an OutboxIoError. */
export function outboxIo<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new OutboxIoError(e);
  }
}
