// Entry point for `npm run agent -- <command> [args]`. Each command is a module in
// agent/commands/ exporting `command: Command`; add one with a line in COMMANDS. Modules are
// imported only when their command runs, so `decode` does not load Kafka or SQLite.
import { runMain, UsageError } from '../shared/config.js';
import type { Command } from './commands/command.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  decode: {
    summary: 'print the fixes of an NMEA capture file as JSON lines',
    load: async () => (await import('./commands/decode.js')).command,
  },
  run: {
    summary: 'run the agent: GPS -> outbox -> Kafka (the systemd service)',
    load: async () => (await import('./commands/run.js')).command,
  },
  simulate: {
    summary: 'run N simulated devices through outbox and sender (load tests, demo)',
    load: async () => (await import('./commands/simulate.js')).command,
  },
  status: {
    summary: "show the agent's GPS, backlog, Kafka link and drops (works while it runs)",
    load: async () => (await import('./commands/status.js')).command,
  },
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `usage: npm run agent -- <command> [args]   (<command> --help for its options)\n\ncommands:\n${list}\n`;
}

runMain(async () => {
  const [name, ...args] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    if (name === undefined) process.exitCode = 2;
    return;
  }
  const entry = COMMANDS[name];
  if (!entry)
    throw new UsageError(
      `agent: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
    );
  const command = await entry.load();
  const code = await command.run(args);
  if (code) process.exitCode = code;
});
