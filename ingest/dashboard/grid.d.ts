// Types of grid.js (plain JS, served to the browser as it is), for the tests that import it.
export const MAX_GRID_LINES: number;
export function niceStep(raw: number): number;
export function gridLines(view: { west: number; east: number; south: number; north: number }): {
  step: number | null;
  decimals: number;
  lons: number[];
  lats: number[];
};
