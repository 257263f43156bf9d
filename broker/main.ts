// Entry point for `npm run broker`: parse options, start, stop cleanly on SIGTERM/SIGINT
// (flush and fsync every segment, mark the shutdown clean so the next start skips recovery).

import { readFileSync } from 'node:fs';
import { StartError, UsageError } from '../shared/config.js';
import { failWritesPastFileSizeLimit } from '../shared/file-size-limit.js';
import { createLogger } from '../shared/log.js';
import { startBroker } from './broker.js';
import { parseArgs, scramCredentialEntry, USAGE } from './cli.js';

const log = createLogger('broker');

async function main(): Promise<void> {
  let opts: ReturnType<typeof parseArgs>;
  const argv = process.argv.slice(2);
  try {
    if (argv[0] === 'scram-credential') {
      process.stdout.write(`${scramCredentialEntry(argv.slice(1), readFileSync(0, 'utf8'))}\n`);
      return;
    }
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`broker: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (!opts) {
    process.stdout.write(USAGE);
    return;
  }
  const broker = await startBroker({ ...opts, logger: log });
  // Which users exist is not secret to the operator; their credentials never reach the log.
  if (opts.sasl) {
    log.info(
      { mechanisms: opts.sasl.mechanisms, users: opts.sasl.users.names() },
      'SASL required on the listener',
    );
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    broker.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  // Past a file-size limit the one write fails (EFBIG -> KAFKA_STORAGE_ERROR for that produce).
  failWritesPastFileSizeLimit(log);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // What an operator can fix (a path, a port, the lock) is one line on stderr and in the log;
  // anything else is a bug, logged with its stack.
  const plain = err instanceof StartError || typeof (err as NodeJS.ErrnoException)?.code === 'string';
  if (plain) {
    const message = (err as Error).message;
    process.stderr.write(`broker: cannot start: ${message}\n`);
    log.fatal({ error: message }, 'broker failed to start');
  } else {
    log.fatal({ err }, 'broker failed to start');
  }
  process.exit(1);
});
