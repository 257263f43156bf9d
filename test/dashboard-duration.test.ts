// The dashboard's one duration style (ingest/dashboard/duration.js), without a browser: the
// devices table's backlog used to stay in seconds ("247286712 s behind" for an old capture).
import t from 'tap';
import { duration } from '../ingest/dashboard/duration.js';

t.test('seconds, then minutes, hours and days', async (t) => {
  t.equal(duration(0), '0 s');
  t.equal(duration(-5000), '0 s', 'a clock a little ahead is not a negative age');
  t.equal(duration(59_400), '59 s');
  t.equal(duration(90_000), '1 min');
  t.equal(duration(3600_000 * 5 + 1), '5 h');
  t.equal(duration(247_286_712_000), '2862 d', "QA's replayed capture");
});
