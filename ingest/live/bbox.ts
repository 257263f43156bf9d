// The fleet stream's area filter: minLon,minLat,maxLon,maxLat as the ?bbox= query gives it.
// A box whose minLon is greater than its maxLon crosses the antimeridian (e.g. 170,-50,-170,-30
// around Fiji), so it is the two strips either side of 180 degrees, not an empty box.

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** The bbox query value: four comma-separated decimal numbers. Used in the route schema. */
export const BBOX_PATTERN = '^\\s*-?\\d+(\\.\\d+)?(\\s*,\\s*-?\\d+(\\.\\d+)?){3}\\s*$';

/** Parses and checks a bbox; returns the box, or a sentence saying what is wrong with it. */
export function parseBBox(raw: string): BBox | string {
  const parts = raw.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) {
    return `bbox ${JSON.stringify(raw)} must be four numbers: minLon,minLat,maxLon,maxLat`;
  }
  const [minLon, minLat, maxLon, maxLat] = parts as [number, number, number, number];
  for (const [name, v, lim] of [
    ['minLon', minLon, 180],
    ['maxLon', maxLon, 180],
    ['minLat', minLat, 90],
    ['maxLat', maxLat, 90],
  ] as const) {
    if (v < -lim || v > lim) return `bbox ${name} ${v} is outside -${lim}..${lim}`;
  }
  if (minLat > maxLat) return `bbox minLat ${minLat} is greater than maxLat ${maxLat}`;
  return { minLon, minLat, maxLon, maxLat };
}

export function inBBox(box: BBox, lon: number, lat: number): boolean {
  if (lat < box.minLat || lat > box.maxLat) return false;
  return box.minLon <= box.maxLon
    ? lon >= box.minLon && lon <= box.maxLon
    : lon >= box.minLon || lon <= box.maxLon;
}
