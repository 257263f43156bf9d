// The broker in its own process, for tests that SIGKILL it mid-write. DATA_DIR names its data
// directory; it prints {"port":N} once listening and then runs until killed.
import { startBroker } from '../../broker/broker.js';
import { createLogger } from '../../shared/log.js';

const dataDir = process.env['DATA_DIR'];
if (!dataDir) throw new Error('DATA_DIR must be set');
const broker = await startBroker({
  dataDir,
  port: 0,
  logger: createLogger('broker', 'warn'),
  groups: { initialRebalanceDelayMs: 300 },
});
process.stdout.write(`${JSON.stringify({ port: broker.port })}\n`);
