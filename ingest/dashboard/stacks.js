// Riders on one spot (a restaurant's pickup door, a depot, a red light): their markers are drawn
// exactly over each other, so the map showed one dot where there were five riders, and only the
// top one could be clicked. A stack is the markers whose centres are within `radius` px of its
// first marker (in id order, so the same stacks come out on every frame); the map draws it as one
// larger marker with the count in it, and each click on it selects the next of its riders.
// Pure, so it is tested without a browser.

/** Markers closer than this (CSS px) look like one. */
export const STACK_PX = 3;

/**
 * points: [{ id, x, y }] marker centres in CSS pixels. Returns [{ ids, x, y }], one per stack
 * (a rider alone is a stack of one): its ids in id order, and the centre of its first marker.
 */
export function stackMarkers(points, radius = STACK_PX) {
  const sorted = [...points].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Stacks by grid cell of their first marker: a marker only looks in its own and the 8 cells
  // around it, so a 1,000-rider frame is not 1,000 x 1,000 distance checks.
  const cells = new Map();
  const key = (cx, cy) => `${cx},${cy}`;
  const stacks = [];
  for (const p of sorted) {
    const cx = Math.floor(p.x / radius);
    const cy = Math.floor(p.y / radius);
    let into = null;
    for (let dx = -1; dx <= 1 && !into; dx++) {
      for (let dy = -1; dy <= 1 && !into; dy++) {
        for (const s of cells.get(key(cx + dx, cy + dy)) ?? []) {
          if ((s.x - p.x) ** 2 + (s.y - p.y) ** 2 <= radius * radius) {
            into = s;
            break;
          }
        }
      }
    }
    if (into) {
      into.ids.push(p.id);
      continue;
    }
    const s = { ids: [p.id], x: p.x, y: p.y };
    stacks.push(s);
    const k = key(cx, cy);
    const list = cells.get(k);
    if (list) list.push(s);
    else cells.set(k, [s]);
  }
  return stacks;
}

/** The rider a stack shows on top: the first of `first` (selected, hovered) in it, else its first. */
export function topOf(stack, first = []) {
  for (const id of first) if (id && stack.ids.includes(id)) return id;
  return stack.ids[0];
}

/**
 * What a click on a stack selects, given the selected device: its first rider, then each next
 * one, and after the last nothing (null), as a second click on a lone rider clears it.
 */
export function nextInStack(ids, selected) {
  const i = selected ? ids.indexOf(selected) : -1;
  if (i === -1) return ids[0];
  return ids[i + 1] ?? null;
}
