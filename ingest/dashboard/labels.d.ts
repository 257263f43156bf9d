// Types of labels.js (plain JS, served to the browser as it is), for the tests that import it.
export interface LabelBox {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}
export const MARKER_HALF: number;
export function placeLabels(opts: {
  anchors: { id: string; x: number; y: number; half?: number }[];
  widthOf: (id: string) => number;
  height: number;
  first?: (string | null | undefined)[];
  w: number;
  h: number;
}): LabelBox[];
export function overlaps(a: Omit<LabelBox, 'id'>, b: Omit<LabelBox, 'id'>): boolean;
