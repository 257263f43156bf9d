// Configuration from environment variables (and an optional env file), validated at start.
//
// A spec maps each variable name to a field: its kind, default and allowed values. loadConfig
// checks every variable at once and throws a ConfigError whose message is one line naming the
// variable, the value and what is allowed; runMain prints that line and exits 2, so a typo in
// /etc/gps-agent/agent.env shows up in `journalctl` as a sentence, not a stack trace.
import { readFileSync } from 'node:fs';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Field<T> {
  /** What is allowed, in words, for the error message and --help. */
  readonly expect: string;
  readonly description: string;
  readonly default: T | undefined;
  /** Secrets are never echoed back in error messages or help. */
  readonly secret: boolean;
  parse(raw: string): T | undefined;
  /** Which part of a refused value is wrong, when it has parts (a list's bad item). */
  readonly which?: (raw: string) => string | undefined;
}

type Common<T> = { description: string; default?: T; secret?: boolean };

function field<T>(
  expect: string,
  opts: Common<T>,
  parse: (raw: string) => T | undefined,
  which?: (raw: string) => string | undefined,
): Field<T> {
  return {
    expect,
    description: opts.description,
    default: opts.default,
    secret: opts.secret ?? false,
    parse,
    ...(which ? { which } : {}),
  };
}

export const env = {
  string(opts: Common<string> & { pattern?: RegExp; patternWords?: string }): Field<string> {
    const expect = opts.patternWords ?? (opts.pattern ? `text matching ${opts.pattern}` : 'non-empty text');
    return field(expect, opts, (raw) =>
      raw !== '' && (!opts.pattern || opts.pattern.test(raw)) ? raw : undefined,
    );
  },
  int(opts: Common<number> & { min: number; max: number }): Field<number> {
    return field(`an integer from ${opts.min} to ${opts.max}`, opts, (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) return undefined;
      const v = Number(raw);
      return Number.isSafeInteger(v) && v >= opts.min && v <= opts.max ? v : undefined;
    });
  },
  number(opts: Common<number> & { min: number; max: number }): Field<number> {
    return field(`a number from ${opts.min} to ${opts.max}`, opts, (raw) => {
      const v = raw.trim() === '' ? Number.NaN : Number(raw);
      return Number.isFinite(v) && v >= opts.min && v <= opts.max ? v : undefined;
    });
  },
  bool(opts: Common<boolean>): Field<boolean> {
    return field('true or false (also 1/0, yes/no, on/off)', opts, (raw) => {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return undefined;
    });
  },
  oneOf<const V extends string>(values: readonly V[], opts: Common<V>): Field<V> {
    return field(`one of ${values.join(', ')}`, opts, (raw) => values.find((v) => v === raw.trim()));
  },
  /**
   * Comma-separated list; each item is checked by `item` (e.g. host:port), then by `refuse`,
   * which may give the reason a well-formed item still cannot be used.
   */
  list(
    opts: Common<string[]> & {
      item?: RegExp;
      itemWords?: string;
      refuse?: (item: string) => string | undefined;
    },
  ): Field<string[]> {
    const words = opts.itemWords ?? 'items';
    const split = (raw: string) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    const malformed = (s: string) => opts.item !== undefined && !opts.item.test(s);
    const bad = (s: string) => malformed(s) || opts.refuse?.(s) !== undefined;
    return field(
      `a comma-separated list of ${words}`,
      opts,
      (raw) => {
        const items = split(raw);
        return items.length > 0 && !items.some(bad) ? items : undefined;
      },
      // In a list of six brokers, the one that is wrong.
      (raw) => {
        const item = split(raw).find(bad);
        if (item === undefined) return undefined;
        return malformed(item)
          ? `${JSON.stringify(item)} is not ${words}`
          : `${JSON.stringify(item)} ${opts.refuse!(item)}`;
      },
    );
  },
  /** A file that must exist and be readable at start (certificates, keys). */
  file(opts: Common<string>): Field<string> {
    return field('the path of a readable file', opts, (raw) => {
      try {
        readFileSync(raw, { flag: 'r' }).subarray(0, 0);
        return raw;
      } catch {
        return undefined;
      }
    });
  },
};

/** A TCP port, 1 to 65535 (no leading zeros). */
const PORT = '(?:[1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])';
/**
 * host:port, as KAFKA_BROKERS takes it. The port is checked for its range here, at start: a
 * port past 65535 would otherwise pass and only fail when the client first connects.
 */
export const HOST_PORT = new RegExp(`^[A-Za-z0-9.-]+:${PORT}$|^\\[[0-9A-Fa-f:.]+\\]:${PORT}$`);

type Spec = Record<string, Field<unknown>>;
type Value<F> = F extends Field<infer T> ? T : never;
/** Variables with a default are always present; the others may be undefined. */
export type Config<S extends Spec> = {
  [K in keyof S]: S[K]['default'] extends undefined ? Value<S[K]> | undefined : Value<S[K]>;
};

/**
 * Reads an env file: KEY=VALUE lines, `#` comments, optional `export `, single or double quotes.
 * A line that is none of these is an error with its line number, not silently skipped.
 */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`config: cannot read env file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const s = line.trim();
    if (s === '' || s.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(s);
    if (!m)
      throw new ConfigError(`config: ${path}:${i + 1} is not KEY=VALUE: ${JSON.stringify(s.slice(0, 60))}`);
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    out[m[1]!] = value;
  });
  return out;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** An env file read first; variables set in the environment win over it. */
  envFile?: string;
  /**
   * Command-line options standing in for variables (e.g. --device for DEVICE_ID); those given
   * win over the environment and are checked by the same spec. Undefined means not given.
   */
  overrides?: Record<string, string | undefined>;
  /**
   * Where a warning goes (one line each): a variable that is not a setting but looks like a
   * misspelt one. Default: stderr, each warning once per process.
   */
  warn?: (line: string) => void;
}

/**
 * One setting's raw value as loadConfig would see it: the environment's (when not empty), else the
 * ENV_FILE's; undefined when neither has it. For what must be known before loadConfig runs (the
 * log level as loggers are made) or without its spec; a file that cannot be read is left to
 * loadConfig to report in its own words.
 */
export function rawSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[name]) return env[name];
  const file = env['ENV_FILE'];
  if (!file) return undefined;
  try {
    return readEnvFile(file)[name] || undefined;
  } catch {
    return undefined;
  }
}

/** Variables every program reads besides those of its spec (here and in shared/log.ts). */
const ALSO_READ = ['ENV_FILE', 'LOG_LEVEL'];

/** The levels LOG_LEVEL takes (shared/log.ts checks it). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The --help lines of the variables every program reads besides its spec's. */
export const ALSO_READ_HELP = [
  `  ${'LOG_LEVEL'.padEnd(26)} log level; ${LOG_LEVELS.join(', ')} (default: info)`,
  `  ${'ENV_FILE'.padEnd(26)} a file of NAME=value lines, read first; the environment wins over it`,
].join('\n');

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name that `key`, not itself known, is probably a misspelling of: the same name in
 * other letter case, or one edit away (two for names of 8 letters or more, which all of ours
 * are). Undefined when nothing is that close: most variables belong to other programs.
 */
function misspeltSetting(key: string, known: readonly string[]): string | undefined {
  if (known.includes(key)) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const distance = editDistance(key.toUpperCase(), name.toUpperCase());
    const allowed = name.length >= 8 ? 2 : name.length >= 4 ? 1 : 0;
    if (distance <= allowed && distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

const warnedOnce = new Set<string>();
function warnOnStderr(line: string): void {
  if (warnedOnce.has(line)) return;
  warnedOnce.add(line);
  process.stderr.write(`${line}\n`);
}

/**
 * Validates every variable of the spec. An empty value counts as unset. Throws one ConfigError
 * for the first bad variable (in spec order), so the message stays a single line. A variable
 * that is not in the spec but looks like a misspelling of one is a warning (see below).
 */
export function loadConfig<S extends Spec>(spec: S, opts: LoadOptions = {}): Config<S> {
  const env = opts.env ?? process.env;
  const envFile = opts.envFile ?? env['ENV_FILE'];
  const fromFile = envFile ? readEnvFile(envFile) : {};
  const source = { ...fromFile, ...env };
  // A misspelt setting would be ignored and its default used in silence (KAFKA_BROKER= leaves the
  // agent on the local broker, never connected): say so. A warning, not an error: a near-miss
  // may still be some other program's variable (the env file and the environment are shared),
  // and an agent that refused to start would store no fixes at all, where one on a default
  // keeps every fix in its outbox until the setting is corrected.
  const known = [...Object.keys(spec), ...ALSO_READ];
  const warn = opts.warn ?? warnOnStderr;
  for (const key of Object.keys(source)) {
    const closest = misspeltSetting(key, known);
    if (closest === undefined) continue;
    const where = key in env ? 'in the environment' : `in ${envFile}`;
    warn(`config: warning: ${key} (${where}) is not a setting and is ignored; did you mean ${closest}?`);
  }
  for (const [name, value] of Object.entries(opts.overrides ?? {}))
    if (value !== undefined) source[name] = value;
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) {
    const raw = source[name];
    if (raw === undefined || raw === '') {
      out[name] = f.default;
      continue;
    }
    const v = f.parse(raw);
    if (v === undefined) {
      const shown = f.secret
        ? '(secret value hidden)'
        : JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
      const which = f.secret ? undefined : f.which?.(raw);
      throw new ConfigError(
        `config: ${name}=${shown} is not allowed: ${which ? `${which}; ` : ''}expected ${f.expect}`,
      );
    }
    out[name] = v;
  }
  return out as Config<S>;
}

/** Requires a variable that has no default; the error names it and says what it wants. */
export function required<T>(value: T | undefined, name: string, why: string): T {
  if (value === undefined) throw new ConfigError(`config: ${name} is not set: ${why}`);
  return value;
}

/** `--help` text for a spec: one line per variable with what it takes and its default. */
export function describeConfig(spec: Spec): string {
  return Object.entries(spec)
    .map(([name, f]) => {
      const def = f.default === undefined || f.secret ? '' : ` (default: ${String(f.default)})`;
      return `  ${name.padEnd(26)} ${f.description}; ${f.expect}${def}`;
    })
    .concat(ALSO_READ_HELP)
    .join('\n');
}

/**
 * Runs a program's main function. A ConfigError (or a UsageError) is printed as its one-line
 * message with exit code 2; a StartError as its one-line message with exit code 1; anything else
 * is a real crash and keeps its stack.
 */
export function runMain(main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .catch((e: unknown) => {
      if (e instanceof ConfigError || e instanceof UsageError) {
        process.stderr.write(`${e.message}\n`);
        process.exit(2);
      }
      if (e instanceof StartError) {
        process.stderr.write(`${e.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    });
}

/**
 * A dependency refused the program at start for a reason no wait fixes (a wrong database password,
 * a database that does not exist): one line that says what and why, exit code 1 (the service
 * manager may try again later), no stack trace.
 */
export class StartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}

/** A bad command line: printed as one line, exit code 2, like a bad variable. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
