// minuteSpans: the per device and minute seq ranges SQLite's time index stores (fix-minutes.ts).
import t from 'tap';
import { MINUTE_MS, minuteOf, minuteSpans } from '../ingest/db/fix-minutes.js';
import { makeFix, T0 } from './helpers/ingest-backends.js';

t.test('spans cover each minute of each device, in any order of the fixes', async (t) => {
  const m0 = minuteOf(T0);
  t.equal(m0 * MINUTE_MS, T0, 'T0 starts a minute');
  const fixes = [
    makeFix('a', 9, { time: T0 + 5 }),
    makeFix('b', 1, { time: T0 }),
    makeFix('a', 3, { time: T0 + MINUTE_MS - 1 }),
    makeFix('a', 12, { time: T0 + MINUTE_MS }),
    makeFix('a', 4, { time: T0 + 30_000 }),
    makeFix('a', 2, { time: T0 - 1 }),
  ];
  const spans = minuteSpans(fixes).sort(
    (x, y) => x.deviceId.localeCompare(y.deviceId) || x.minute - y.minute,
  );
  t.same(spans, [
    { deviceId: 'a', minute: m0 - 1, minSeq: 2, maxSeq: 2 },
    { deviceId: 'a', minute: m0, minSeq: 3, maxSeq: 9 },
    { deviceId: 'a', minute: m0 + 1, minSeq: 12, maxSeq: 12 },
    { deviceId: 'b', minute: m0, minSeq: 1, maxSeq: 1 },
  ]);
  t.same(minuteSpans([]), []);
});
