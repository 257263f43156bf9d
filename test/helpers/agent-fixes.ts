// Positions for agent tests: a rider moving north-east one step per second.
import type { Position } from '../../shared/fix.js';

export const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);

export function position(i: number, t0 = T0): Position {
  return {
    time: t0 + i * 1000,
    lat: 52.52 + i * 1e-5,
    lon: 13.405 + i * 1e-5,
    alt: 34.5,
    speed: 5.2,
    course: 45,
    hdop: 0.9,
    sats: 9,
    mode: 3,
    quality: 1,
  };
}
