// A file-size limit (ulimit -f, RLIMIT_FSIZE) must fail the one write that goes past it with EFBIG,
// which each program already handles as a full disk, not kill the process with SIGXFSZ's default
// action. The broker, the ingest and the agent install this at start.
import type { Logger } from './log.js';

export function failWritesPastFileSizeLimit(log: Logger): void {
  process.on('SIGXFSZ', () => log.error('file size limit reached (SIGXFSZ); the write fails'));
}
