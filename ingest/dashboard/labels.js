// Where the map writes device names: a label may cover neither another label nor another rider's
// marker, because riders bunch up (a restaurant, a traffic light) and overlapping names are
// unreadable while hiding the dots underneath. Greedy: the labels that matter most are placed
// first (the selected and the hovered device), then the rest in id order, so the same device wins
// a crowded spot on every frame and labels do not flicker as riders move. A label tries four spots
// around its marker; when none is free it is left out (hover the marker, or find the device in the
// table). Pure, so it is tested without a browser.

/** Half the side of the square a marker occupies (its disc is 6 px with a 2 px outline). */
export const MARKER_HALF = 7;
const GAP = 3;

/**
 * anchors: [{ id, x, y, half?, text? }] marker centres in CSS pixels, half the side of the square
 * each marker occupies when it is not MARKER_HALF (a stack of riders is larger), and the label's
 * text when it is not the id (a stack's: "its top rider +N"); widthOf(text): the text's width;
 * height: the text height; first: ids to place before the others (in that order);
 * w, h: the canvas size. Returns [{ id, text, x, y, w, h }]: the box of every label placed (top-left).
 */
export function placeLabels({ anchors, widthOf, height, first = [], w, h }) {
  const priority = new Map(first.filter(Boolean).map((id, i) => [id, i]));
  const order = [...anchors].sort((a, b) => {
    const pa = priority.get(a.id) ?? Infinity;
    const pb = priority.get(b.id) ?? Infinity;
    if (pa !== pb) return pa - pb;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  const halfOf = (a) => a.half ?? MARKER_HALF;
  const markers = anchors.map((a) => ({
    id: a.id,
    x: a.x - halfOf(a),
    y: a.y - halfOf(a),
    w: 2 * halfOf(a),
    h: 2 * halfOf(a),
  }));
  const placed = [];
  for (const a of order) {
    const text = a.text ?? a.id;
    const lw = widthOf(text);
    const half = halfOf(a);
    const right = a.x + half + GAP;
    const left = a.x - half - GAP - lw;
    const above = a.y - half - height + 4;
    const below = a.y + half - 4;
    for (const [x, y] of [
      [right, above],
      [right, below],
      [left, above],
      [left, below],
    ]) {
      const box = { id: a.id, text, x, y, w: lw, h: height };
      if (x < 0 || y < 0 || x + lw > w || y + height > h) continue;
      if (placed.some((p) => overlaps(p, box))) continue;
      if (markers.some((m) => m.id !== a.id && overlaps(m, box))) continue;
      placed.push(box);
      break;
    }
  }
  return placed;
}

export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}
