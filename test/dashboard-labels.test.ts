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

t.test('a label with its own text (a stack: "top +N") is sized and returned by that text', async (t) => {
  const boxes = placeLabels({
    ...view,
    anchors: [
      { id: 'sim-0001', x: 100, y: 100, text: 'sim-0001 +2' },
      { id: 'sim-0009', x: 400, y: 100 },
    ],
  });
  const stack = boxes.find((b) => b.id === 'sim-0001')!;
  t.equal(stack.text, 'sim-0001 +2');
  t.equal(stack.w, widthOf('sim-0001 +2'), 'the box is as wide as the longer text');
  t.equal(boxes.find((b) => b.id === 'sim-0009')!.text, 'sim-0009', 'without one, the id is written');
  // The longer text claims more room: beside this neighbour there is space for "a" but not for
  // "a +12345", so the label goes to another side rather than over the neighbour's marker.
  const anchors = [
    { id: 'a', x: 100, y: 100, text: 'a +12345' },
    { id: 'b', x: 130, y: 90 },
  ];
  const alone = placeLabels({ ...view, anchors: anchors.map(({ id, x, y }) => ({ id, x, y })) });
  t.equal(alone.find((x) => x.id === 'a')!.x, 100 + MARKER_HALF + 3, 'the id alone fits right of its marker');
  const long = placeLabels({ ...view, anchors }).find((x) => x.id === 'a')!;
  t.equal(long.text, 'a +12345');
  const disc = { x: 130 - MARKER_HALF, y: 90 - MARKER_HALF, w: 2 * MARKER_HALF, h: 2 * MARKER_HALF };
  t.notOk(overlaps(long, disc), 'the longer text keeps clear of the neighbour');
});
