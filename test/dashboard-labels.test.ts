// The map's label placement (ingest/dashboard/labels.js), without a browser: crowded riders get no
// overlapping names, a lone rider always gets its name, the selected or hovered one wins a crowded
// spot, and the answer does not depend on the order markers come in (no flicker between frames).
import t, { type Test } from 'tap';
import { type LabelBox, MARKER_HALF, overlaps, placeLabels } from '../ingest/dashboard/labels.js';

const widthOf = (id: string) => id.length * 6;
const view = { widthOf, height: 13, w: 800, h: 600 };

function assertDisjoint(t: Test, boxes: LabelBox[], anchors: { id: string; x: number; y: number }[]) {
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) t.notOk(overlaps(a, b), `${a.id} and ${b.id} do not overlap`);
    for (const m of anchors) {
      if (m.id === a.id) continue;
      const disc = { x: m.x - MARKER_HALF, y: m.y - MARKER_HALF, w: 2 * MARKER_HALF, h: 2 * MARKER_HALF };
      t.notOk(overlaps(a, disc), `${a.id}'s label leaves ${m.id}'s marker visible`);
    }
    t.ok(a.x >= 0 && a.y >= 0 && a.x + a.w <= view.w && a.y + a.h <= view.h, `${a.id} is on the canvas`);
  }
}

t.test('a cluster of riders: no label covers another label or marker, and most still get one', async (t) => {
  // 30 riders within a 60 px square (a restaurant's door), plus one alone across the map.
  const anchors = Array.from({ length: 30 }, (_, i) => ({
    id: `sim-${String(i).padStart(4, '0')}`,
    x: 300 + (i % 6) * 12,
    y: 300 + Math.floor(i / 6) * 12,
  }));
  anchors.push({ id: 'alone', x: 650, y: 100 });
  const boxes = placeLabels({ ...view, anchors });
  assertDisjoint(t, boxes, anchors);
  t.ok(
    boxes.some((b) => b.id === 'alone'),
    'the lone rider is named',
  );
  t.ok(boxes.length >= 5 && boxes.length < anchors.length, `${boxes.length} of 31 named, the rest left out`);
  t.ok(
    boxes.some((b) => b.id === 'sim-0000'),
    'the first id of the cluster wins its corner',
  );
});

t.test('spots are tried around the marker before a label is left out', async (t) => {
  // Two riders side by side, 40 px apart: the left one's right-hand label would cover the right one.
  const anchors = [
    { id: 'a-long-name', x: 300, y: 300 },
    { id: 'b', x: 340, y: 300 },
  ];
  const boxes = placeLabels({ ...view, anchors });
  assertDisjoint(t, boxes, anchors);
  t.same(boxes.map((b) => b.id).sort(), ['a-long-name', 'b'], 'both named');
  const a = boxes.find((b) => b.id === 'a-long-name')!;
  t.ok(a.x + a.w <= 300, 'the long name went to the left of its marker');
  // At the canvas edge the label flips inside.
  const edge = placeLabels({ ...view, anchors: [{ id: 'edge-rider', x: 795, y: 5 }] });
  t.equal(edge.length, 1);
  t.ok(edge[0]!.x + edge[0]!.w <= view.w && edge[0]!.y >= 0, 'inside the canvas');
});

t.test(
  'the selected or hovered device is named first; the result does not depend on input order',
  async (t) => {
    // Three riders on one spot near the left edge of a small canvas: there is room for two names
    // (right of the markers, above and below), none on the left.
    const small = { ...view, w: 100, h: 40 };
    const anchors = ['zzz', 'mmm', 'aaa'].map((id) => ({ id, x: 20, y: 20 }));
    const named = (first?: (string | null)[]) =>
      placeLabels({ ...small, anchors, ...(first ? { first } : {}) })
        .map((b) => b.id)
        .sort();
    t.same(named(), ['aaa', 'mmm'], 'two names fit, taken in id order');
    t.same(named([null, 'zzz']), ['aaa', 'zzz'], 'the hovered one gets a spot');
    t.same(named(['zzz', 'mmm']), ['mmm', 'zzz'], 'the selected one, then the hovered one, before the rest');
    const many = Array.from({ length: 60 }, (_, i) => ({
      id: `r${i}`,
      x: 200 + (i % 10) * 15,
      y: 200 + i * 3,
    }));
    const forward = placeLabels({ ...view, anchors: many });
    const backward = placeLabels({ ...view, anchors: [...many].reverse() });
    t.same(
      backward.map((b) => [b.id, b.x, b.y]).sort(),
      forward.map((b) => [b.id, b.x, b.y]).sort(),
      'the same labels in the same places whatever order the markers are listed in',
    );
  },
);
