// The map's lat/lon grid, as numbers (no canvas): which lines to draw for a view. Bounded whatever
// the view: a canvas of 0 or 1 px, a huge one, or a zoom so deep that adding the step to a
// coordinate no longer changes it, never gives more than MAX_GRID_LINES lines each way (a 0 px wide
// map once asked for a 1e-6 degree step and 1.7e8 lines a frame, which froze the tab).

/** At most this many lines each way, whatever the view. */
export const MAX_GRID_LINES = 50;
/** About this many lines across the larger of the two spans. */
const LINES = 7;
/** Label decimals stay below what toFixed accepts (100), and well within what a double holds. */
const MAX_DECIMALS = 12;

/**
 * 1, 2 or 5 times a power of ten, the nearest at or above `raw`; NaN when `raw` is not a positive
 * finite number (nothing sensible to round).
 */
export function niceStep(raw) {
  if (!(raw > 0) || !Number.isFinite(raw)) return Number.NaN;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** The multiples of `step` within [lo, hi], at most MAX_GRID_LINES of them. */
function multiples(lo, hi, step) {
  const out = [];
  const first = Math.ceil(lo / step);
  const last = Math.floor(hi / step);
  // Counted, not stepped: `first + i` stays exact where `x += step` may stop moving.
  for (let i = 0; i <= last - first && i < MAX_GRID_LINES; i++) out.push((first + i) * step);
  return out;
}

/**
 * Grid lines for a view spanning longitudes [west, east] and latitudes [south, north] in degrees:
 * one step for both (about 7 lines across the larger span, so a tall narrow map does not get
 * hundreds of latitude lines), the longitudes and latitudes to draw, and the label decimals.
 * A span that is empty, negative or not finite (a canvas without a size) gives no lines.
 */
export function gridLines({ west, east, south, north }) {
  const step = niceStep(Math.max(east - west, north - south) / LINES);
  if (!Number.isFinite(step) || !(east >= west) || !(north >= south)) {
    return { step: null, decimals: 0, lons: [], lats: [] };
  }
  return {
    step,
    decimals: Math.min(MAX_DECIMALS, Math.max(0, -Math.floor(Math.log10(step)))),
    lons: multiples(west, east, step),
    lats: multiples(south, north, step),
  };
}
