// The middle of a set of measurements (the upper middle of an even count): one slow or fast run
// on a shared machine does not move it.
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
