// node:util parseArgs's refusals, in the one short line our commands print. Node's own text is
// long and written for a program's author: "Unknown option '--bogus'. To specify a positional
// argument starting with a '-', place it at the end of the command after '--', as in '--
// "--bogus"" (its quotes unbalanced), and a negative number given to an option is "argument is
// ambiguous" over three lines.

/** What is wrong with the command line, in one line without node's advice. */
export function argsProblem(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const unknown = /^Unknown option '([^']+)'/.exec(msg);
  if (unknown) return `unknown option ${unknown[1]}`;
  const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(msg);
  if (ambiguous)
    return `${ambiguous[1]} needs a value (one starting with a dash is written ${ambiguous[1]}=-1)`;
  // The others ("Option '--loop' does not take an argument", "Unexpected argument 'x'") are one
  // sentence and then advice.
  return msg.split('\n')[0]!.split('. ')[0]!;
}

/**
 * The first option given an empty value (`--brokers ""`, `--data-dir=`), as "--name", or
 * undefined. An empty value reads as "not given" further on (settings count '' as unset), so it
 * would quietly fall back to the default: the commands refuse it instead.
 */
export function emptyOption(values: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(values)) {
    const given = Array.isArray(value) ? value : [value];
    if (given.some((v) => v === '')) return `--${name}`;
  }
  return undefined;
}

/** The refusal for emptyOption's answer, in the same words for every command. */
export const emptyOptionProblem = (option: string): string =>
  `${option} "" is empty: give a value, or leave the option out`;
