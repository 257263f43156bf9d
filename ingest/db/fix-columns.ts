// Fixes as columns, to hand a batch to the SQLite writer thread. postMessage would otherwise
// structured-clone every Fix object (measured: about 1.2 us a fix each way, a third of what the
// insert itself costs); typed arrays are transferred without a copy and the device ids of a
// batch are a few hundred distinct strings, sent once each.
import type { Fix, FixMode } from '../../shared/fix.js';

export interface FixColumns {
  /**
   * The fixes themselves, cloned, when one of them is not made of numbers where numbers belong
   * (never after decodeFix validated it, but the store must refuse such a row as SQLite would,
   * not turn a null into 0 on the way).
   */
  objects?: Fix[];
  /** Distinct device ids of the batch. */
  ids: string[];
  /** Per fix: index into ids. */
  device: Uint32Array;
  /** Per fix: WIDTH numbers, REQUIRED then OPTIONAL; NaN = optional field absent. */
  nums: Float64Array;
}

// A NaN never stands for a value: decodeFix accepts finite numbers only.
const REQUIRED = ['seq', 'time', 'lat', 'lon', 'mode'] as const;
const OPTIONAL = ['alt', 'speed', 'course', 'hdop', 'sats', 'quality', 'droppedThrough'] as const;
const WIDTH = REQUIRED.length + OPTIONAL.length;

function packable(f: Fix): boolean {
  if (typeof f.deviceId !== 'string') return false;
  for (const k of REQUIRED) if (typeof f[k] !== 'number') return false;
  for (const k of OPTIONAL) if (f[k] !== undefined && typeof f[k] !== 'number') return false;
  return true;
}

export function packFixes(fixes: readonly Fix[]): FixColumns {
  if (!fixes.every(packable)) {
    return { objects: [...fixes], ids: [], device: new Uint32Array(0), nums: new Float64Array(0) };
  }
  const n = fixes.length;
  const index = new Map<string, number>();
  const ids: string[] = [];
  const device = new Uint32Array(n);
  const nums = new Float64Array(n * WIDTH);
  for (let i = 0; i < n; i++) {
    const f = fixes[i]!;
    let d = index.get(f.deviceId);
    if (d === undefined) {
      d = ids.length;
      index.set(f.deviceId, d);
      ids.push(f.deviceId);
    }
    device[i] = d;
    const o = i * WIDTH;
    for (let k = 0; k < REQUIRED.length; k++) nums[o + k] = f[REQUIRED[k]!];
    for (let k = 0; k < OPTIONAL.length; k++) nums[o + REQUIRED.length + k] = f[OPTIONAL[k]!] ?? Number.NaN;
  }
  return { ids, device, nums };
}

export function unpackFixes(c: FixColumns): Fix[] {
  if (c.objects) return c.objects;
  const n = c.device.length;
  const out = new Array<Fix>(n);
  for (let i = 0; i < n; i++) {
    const o = i * WIDTH;
    const f: Fix = {
      deviceId: c.ids[c.device[i]!]!,
      seq: c.nums[o]!,
      time: c.nums[o + 1]!,
      lat: c.nums[o + 2]!,
      lon: c.nums[o + 3]!,
      mode: c.nums[o + 4] as FixMode,
    };
    for (let k = 0; k < OPTIONAL.length; k++) {
      const v = c.nums[o + REQUIRED.length + k]!;
      if (!Number.isNaN(v)) f[OPTIONAL[k]!] = v;
    }
    out[i] = f;
  }
  return out;
}

/** The buffers postMessage can move instead of copying. */
export const transferables = (c: FixColumns): ArrayBuffer[] => [
  c.device.buffer as ArrayBuffer,
  c.nums.buffer as ArrayBuffer,
];
