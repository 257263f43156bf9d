// utcDay/dayStartMs keep their strings per day number: the same answers as the Date formatting.
import t from 'tap';
import { dayStartMs, utcDay } from '../ingest/trips/accumulate.js';

t.test('utcDay and dayStartMs equal the Date formatting, around midnights and far off', async (t) => {
  const DAY = 86_400_000;
  const times: number[] = [0, -1, 1, DAY - 1, DAY, -DAY, -DAY - 1, 8.64e15, -8.64e15];
  for (let d = -3; d < 3; d++)
    for (const o of [-1, 0, 1, 0.5, -0.5]) times.push(Date.UTC(2026, 11, 4 + d) + o);
  for (let i = 0; i < 10_000; i++) times.push(Math.round((Math.random() - 0.5) * 2e13) + Math.random());
  for (const ms of times) {
    const want = new Date(ms).toISOString().slice(0, 10);
    t.equal(utcDay(ms), want, `utcDay(${ms})`);
    t.ok(Object.is(dayStartMs(want), Date.parse(`${want}T00:00:00Z`)), `dayStartMs(${want})`);
    t.equal(utcDay(ms), want, `utcDay(${ms}) again`);
  }
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1]) {
    t.throws(() => utcDay(bad), RangeError);
    t.throws(() => utcDay(bad), RangeError);
  }
  t.ok(Number.isNaN(dayStartMs('not-a-day')));
});
