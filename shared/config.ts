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
}

type Common<T> = { description: string; default?: T; secret?: boolean };

function field<T>(expect: string, opts: Common<T>, parse: (raw: string) => T | undefined): Field<T> {
  return {
    expect,
    description: opts.description,
    default: opts.default,
    secret: opts.secret ?? false,
    parse,
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
  /** Comma-separated list; each item is checked by `item` (e.g. host:port). */
  list(opts: Common<string[]> & { item?: RegExp; itemWords?: string }): Field<string[]> {
    const words = opts.itemWords ?? 'items';
    return field(`a comma-separated list of ${words}`, opts, (raw) => {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) return undefined;
      return items.every((s) => !opts.item || opts.item.test(s)) ? items : undefined;
    });
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

/** host:port, as KAFKA_BROKERS takes it. */
export const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

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
}

/**
 * Validates every variable of the spec. An empty value counts as unset. Throws one ConfigError
 * for the first bad variable (in spec order), so the message stays a single line.
 */
export function loadConfig<S extends Spec>(spec: S, opts: LoadOptions = {}): Config<S> {
  const env = opts.env ?? process.env;
  const envFile = opts.envFile ?? env['ENV_FILE'];
  const source = { ...(envFile ? readEnvFile(envFile) : {}), ...env };
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
      throw new ConfigError(`config: ${name}=${shown} is not allowed: expected ${f.expect}`);
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
