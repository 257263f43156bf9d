// Types of labels.js (plain JS, served to the browser as it is), for the tests that import it.
export interface LabelBox {
  id: string;
  /** What is written: the id, or for a stack of riders "its top rider +N". */
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}
export const MARKER_HALF: number;
export function placeLabels(opts: {
  anchors: { id: string; x: number; y: number; half?: number; text?: string }[];
  widthOf: (text: string) => number;
  height: number;
  first?: (string | null | undefined)[];
  w: number;
  h: number;
}): LabelBox[];
export function overlaps(a: Omit<LabelBox, 'id' | 'text'>, b: Omit<LabelBox, 'id' | 'text'>): boolean;
