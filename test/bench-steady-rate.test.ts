// The benchmark's steady rate (bench/steady-rate.ts): the warm-up's fixes and time are left out,
// and the window runs from flush start to flush start, so a slow first second or a last flush
// still being timed cannot move the figure.
import t from 'tap';
import { steadyRate } from '../bench/steady-rate.js';

t.test('past the warm-up: fixes of the flushes between the first counted start and the last', async (t) => {
  // 10 flushes of 100 fixes: the first two slow (warm-up, 1 s each), then one every 100 ms.
  const flushes = [0, 1000, 2000, 2100, 2200, 2300, 2400, 2500, 2600, 2700].map((at) => ({ at, rows: 100 }));
  // 25% of 1000 = 250: flushes 0-2 are the warm-up; from 2100 to 2700, 6 flushes of 100.
  t.equal(steadyRate(flushes), 1000, '600 fixes in 0.6 s');
  t.equal(steadyRate(flushes, 0), Math.round(900 / 2.7), 'with no warm-up the slow start counts');
});

t.test('flushes in the same millisecond are one, in any order', async (t) => {
  const one = Array.from({ length: 8 }, (_, i) => ({ at: 10 * Math.floor(i / 2), rows: 1 }));
  // Starts 0, 10, 20, 30 with 2 fixes each; warm-up 2 fixes: from 10 to 30, 4 fixes in 20 ms.
  t.equal(steadyRate(one.reverse()), 200);
});

t.test('too short a run is an error, not a figure', async (t) => {
  t.throws(() => steadyRate([{ at: 0, rows: 100 }]), /too few past the warm-up/);
  t.throws(
    () =>
      steadyRate([
        { at: 0, rows: 100 },
        { at: 5, rows: 100 },
      ]),
    /2 flush starts, 200 fixes/,
  );
  t.throws(() => steadyRate([]), /0 flush starts/);
});
