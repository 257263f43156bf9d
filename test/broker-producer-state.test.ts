// Producer state table rules that the wire tests cannot reach quickly: sequence wrap-around,
// the 5-batch cache, epoch bumps, expiry by the broker's clock, snapshot round trip.
import t from 'tap';
import { ProducerStateTable } from '../broker/produce-state/producer-state.js';
import { ErrorCode } from '../broker/protocol/errors.js';
import type { BatchInfo } from '../broker/storage/batch.js';

function batch(seq: number, records = 1, epoch = 0, pid = 7): BatchInfo {
  return {
    position: 0,
    size: 100,
    baseOffset: 0,
    lastOffsetDelta: records - 1,
    maxTimestamp: 0, // ancient record time: must not matter for expiry
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: seq,
    recordCount: records,
    transactional: false,
    control: false,
  };
}

t.test('sequence numbers wrap from 2^31-1 to 0', async (t) => {
  const s = new ProducerStateTable();
  const max = 2 ** 31 - 1;
  s.record(batch(max - 1, 2), 0);
  t.same(s.check(batch(0)), { kind: 'append' }, 'after 2^31-1 comes 0');
  t.equal(s.check(batch(1)).kind, 'error', 'skipping 0 is a gap');
});

t.test('only the last five batches are remembered', async (t) => {
  const s = new ProducerStateTable();
  for (let i = 0; i < 7; i++) s.record(batch(i), 100 + i);
  t.same(s.check(batch(6)), { kind: 'duplicate', firstOffset: 106, lastOffset: 106 });
  t.same(s.check(batch(2)), { kind: 'duplicate', firstOffset: 102, lastOffset: 102 });
  const old = s.check(batch(1));
  t.equal(old.kind === 'error' && old.code, ErrorCode.DUPLICATE_SEQUENCE_NUMBER, 'older than the cache');
});

t.test('epochs: a new epoch starts at 0, an old one is fenced', async (t) => {
  const s = new ProducerStateTable();
  s.record(batch(0, 1, 3), 0);
  t.same(s.check(batch(0, 1, 4)), { kind: 'append' });
  const mid = s.check(batch(5, 1, 4));
  t.equal(mid.kind === 'error' && mid.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const old = s.check(batch(1, 1, 2));
  t.equal(old.kind === 'error' && old.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  t.same(s.check({ ...batch(9), producerId: -1 }), { kind: 'append' }, 'non-idempotent batches pass');
});

t.test('expiry uses the broker clock; snapshots round trip', async (t) => {
  const s = new ProducerStateTable();
  s.record(batch(0, 1, 0, 1), 0, 1_000);
  s.record(batch(0, 1, 0, 2), 1, 9_000);
  s.expire(10_000, 5_000);
  t.equal(s.size, 1, 'the producer idle since t=1000 is forgotten');
  const back = ProducerStateTable.fromSnapshot(JSON.parse(JSON.stringify(s.snapshot(2))));
  t.same(back.check(batch(0, 1, 0, 2)), { kind: 'duplicate', firstOffset: 1, lastOffset: 1 });
});
