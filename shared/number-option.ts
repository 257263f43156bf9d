// A numeric command-line option checked against its range, for every program's options (npm
// start's --devices, agent simulate's --devices and --speed): a value past its upper limit is a
// usage error at once, not a start that quietly allocates a billion riders.
import { UsageError } from './config.js';

export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only, written as digits (not 1e3). */
  integer?: boolean;
}

/**
 * The option's value, or `def` when it was not given. A bad one is a UsageError of one line:
 * `<program>: --<name> needs an integer from <min> to <max>, got '<raw>'`.
 */
export function numberOption(
  program: string,
  name: string,
  raw: string | undefined,
  def: number,
  { min, max, integer = false }: NumberRange,
): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  const written = integer ? /^\d+$/.test(raw) : /^\d*\.?\d+$|^\d+\.$/.test(raw);
  if (!written || !(v >= min && v <= max)) {
    throw new UsageError(
      `${program}: --${name} needs ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${raw}'`,
    );
  }
  return v;
}
