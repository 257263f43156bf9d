// Riders on one spot (ingest/dashboard/stacks.js), without a browser: markers that look like one
// are one stack, the same stacks whatever order the markers come in, the selected or hovered
// rider on top, and clicks on a stack walk through its riders and then clear the selection.
import t from 'tap';
import { type LabelBox, overlaps, placeLabels } from '../ingest/dashboard/labels.js';
import { nextInStack, STACK_PX, stackMarkers, topOf } from '../ingest/dashboard/stacks.js';

const ids = (stacks: { ids: string[] }[]) => stacks.map((s) => s.ids);

t.test('markers within STACK_PX of a stack join it; the rest stand alone', async (t) => {
  t.equal(STACK_PX, 3);
  const points = [
    { id: 'c', x: 100, y: 100 },
    { id: 'a', x: 100, y: 100 },
    { id: 'b', x: 101.5, y: 98.5 },
    { id: 'd', x: 103, y: 100 }, // exactly the radius away: looks like the same spot
    { id: 'e', x: 110, y: 100 }, // a marker's width away: its own dot
    { id: 'f', x: 400, y: 20 },
  ];
  const stacks = stackMarkers(points);
  t.same(ids(stacks), [['a', 'b', 'c', 'd'], ['e'], ['f']]);
  t.same({ x: stacks[0]!.x, y: stacks[0]!.y }, { x: 100, y: 100 }, 'at its first rider');
  // Any order in, the same stacks out: the map draws the same thing on every frame.
  for (let i = 0; i < 20; i++) {
    const shuffled = [...points].sort(() => Math.random() - 0.5);
    t.same(ids(stackMarkers(shuffled)), ids(stacks));
  }
});

t.test('two markers on either side of a grid line still stack', async (t) => {
  // 2.9 and 3.1 fall in different cells of the 3 px grid the search uses.
  t.same(
    ids(
      stackMarkers([
        { id: 'a', x: 2.9, y: 2.9 },
        { id: 'b', x: 3.1, y: 3.1 },
        { id: 'c', x: 0.5, y: 4.5 }, // 2.9 px from a, a row of cells down
      ]),
    ),
    [['a', 'b', 'c']],
  );
  t.same(
    ids(
      stackMarkers([
        { id: 'a', x: 0, y: 0 },
        { id: 'b', x: 2.2, y: 2.2 },
      ]),
    ),
    [['a'], ['b']],
    '3.1 px apart diagonally is two dots',
  );
});

t.test('a thousand riders bunched in a few spots: one stack per spot', async (t) => {
  const points = Array.from({ length: 1000 }, (_, i) => ({
    id: `r${String(i).padStart(4, '0')}`,
    x: 50 + (i % 10) * 40 + (i % 3) * 0.5,
    y: 50 + (Math.floor(i / 10) % 10) * 40,
  }));
  const stacks = stackMarkers(points);
  t.equal(stacks.length, 100);
  t.ok(
    stacks.every((s) => s.ids.length === 10),
    'ten riders each',
  );
});

t.test('the selected rider is on top of its stack, then the hovered one, else the first', async (t) => {
  const s = { ids: ['a', 'b', 'c'], x: 0, y: 0 };
  t.equal(topOf(s), 'a');
  t.equal(topOf(s, [null, 'c']), 'c');
  t.equal(topOf(s, ['b', 'c']), 'b');
  t.equal(topOf(s, ['zz', 'c']), 'c', 'a selected rider elsewhere does not count');
});

t.test('clicks on a stack select each rider in turn, then clear the selection', async (t) => {
  const stack = ['a', 'b', 'c'];
  const seen: (string | null)[] = [];
  let selected: string | null = null;
  for (let i = 0; i < 4; i++) {
    selected = nextInStack(stack, selected);
    seen.push(selected);
  }
  t.same(seen, ['a', 'b', 'c', null]);
  t.equal(nextInStack(stack, 'elsewhere'), 'a', 'a rider selected elsewhere: the stack starts over');
  t.equal(nextInStack(['solo'], null), 'solo');
  t.equal(nextInStack(['solo'], 'solo'), null, 'a lone rider clicked again clears, as before');
});

t.test('a label keeps clear of a stack, which is larger than one marker', async (t) => {
  const half = 10;
  const boxes: LabelBox[] = placeLabels({
    anchors: [
      { id: 'stack-top', x: 200, y: 200, half },
      { id: 'neighbour', x: 200, y: 226 },
    ],
    widthOf: (id) => id.length * 6,
    height: 13,
    w: 800,
    h: 600,
  });
  t.equal(boxes.length, 2);
  const disc = { x: 200 - half, y: 200 - half, w: 2 * half, h: 2 * half };
  for (const b of boxes) t.notOk(overlaps(b, disc), `${b.id}'s label leaves the stack visible`);
  const mine = boxes.find((b) => b.id === 'stack-top')!;
  t.ok(mine.x >= 200 + half || mine.x + mine.w <= 200 - half, 'its own label sits beside the larger disc');
});
