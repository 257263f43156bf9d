// What every `npm run agent -- <command>` is: a name, a one-line summary for `agent --help`,
// its own --help text, and a run function taking the rest of the command line.
// Commands are listed in agent/main.ts, one line each.
import { accessSync, constants, statSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { argsProblem, emptyOption, emptyOptionProblem } from '../../shared/args-error.js';
import { UsageError } from '../../shared/config.js';

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full --help text: usage line, arguments, options. */
  readonly help: string;
  /** Runs the command; resolves with the exit code (default 0). */
  run(args: string[]): Promise<number | undefined> | number | undefined;
}

/**
 * node:util parseArgs with its errors turned into UsageErrors (one line, exit 2) that name
 * the command, so a typo never prints a stack trace. Positional arguments are refused unless
 * the command takes them (`positionals: true`, e.g. decode's FILE), and so are empty values.
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
) {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`agent ${command}: ${argsProblem(e)} (see --help)`);
  }
  // A command that takes no arguments refuses them rather than ignoring them: `run extra`, or a
  // value given to a switch (`run --loop yes`), is a mistake the user should hear about.
  const extra = parsed.positionals[0];
  if (!positionals && extra !== undefined)
    throw new UsageError(`agent ${command}: unexpected argument ${JSON.stringify(extra)} (see --help)`);
  // `--brokers ""` would quietly fall back to KAFKA_BROKERS or the embedded broker.
  const empty = emptyOption(parsed.values);
  if (empty) throw new UsageError(`agent ${command}: ${emptyOptionProblem(empty)}`);
  return parsed;
}

/** Whether `path` is a file this process can read: not missing, not a directory, not unreadable. */
export function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
