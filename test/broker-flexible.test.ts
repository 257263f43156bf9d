// The flexible (compact + tagged fields) versions newer clients negotiate: each request decodes
// and its response reads back field by field to the last byte.
import t from 'tap';
import { ApiKey } from '../broker/protocol/apiKeys.js';
import { Writer } from '../broker/protocol/codec.js';
import { inProcessBroker } from './helpers/broker-harness.js';
import { buildBatch, RawClient } from './helpers/broker-raw.js';

t.test('flexible versions round trip', async (t) => {
  const b = await inProcessBroker(t);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.close());

  // CreateTopics v7
  const ct = new Writer().compactArray(['flex'], (w, name) => {
    w.compactString(name).int32(2).int16(1);
    w.compactArray([], () => {});
    w.compactArray([['retention.ms', '1000000']], (w, [k, v]) =>
      w.compactString(k!).compactNullableString(v).taggedFields(),
    );
    w.taggedFields();
  });
  ct.int32(1000).bool(false).taggedFields();
  const ctr = await c.request(ApiKey.CreateTopics, 7, ct, true);
  ctr.taggedFields(); // response header v1
  t.equal(ctr.int32(), 0);
  const [created] = ctr.compactArray((r) => {
    const name = r.compactString();
    const id = r.uuid();
    const code = r.int16();
    r.compactNullableString();
    const parts = r.int32();
    r.int16();
    const configs = r.compactNullableArray((r) => {
      const e = [r.compactString(), r.compactNullableString()];
      r.bool();
      r.int8();
      r.bool();
      r.taggedFields();
      return e;
    });
    r.taggedFields();
    return { name, id, code, parts, configs };
  });
  ctr.taggedFields();
  t.equal(ctr.remaining, 0);
  t.equal(created!.code, 0);
  t.equal(created!.parts, 2);
  t.equal(created!.id, b.context.topics.get('flex')!.id, 'topic id reported');
  t.ok(created!.configs!.some(([k, v]) => k === 'retention.ms' && v === '1000000'));

  // InitProducerId v4
  const ip = await c.request(
    ApiKey.InitProducerId,
    4,
    new Writer().compactNullableString(null).int32(60000).int64(-1).int16(-1).taggedFields(),
    true,
  );
  ip.taggedFields();
  ip.int32();
  t.equal(ip.int16(), 0);
  const pid = ip.int64n();
  t.equal(ip.int16(), 0, 'epoch 0');
  ip.taggedFields();
  t.equal(ip.remaining, 0);
  const bump = await c.request(
    ApiKey.InitProducerId,
    4,
    new Writer().compactNullableString(null).int32(60000).int64(pid).int16(0).taggedFields(),
    true,
  );
  bump.taggedFields();
  bump.int32();
  bump.int16();
  t.equal(bump.int64n(), pid, 'same producer id');
  t.equal(bump.int16(), 1, 'epoch bumped');

  // Produce v9
  const batch = buildBatch([{ value: 'flexible' }], { producerId: pid, producerEpoch: 1, baseSequence: 0 });
  const pw = new Writer().compactNullableString(null).int16(-1).int32(5000);
  pw.compactArray(['flex'], (w, name) => {
    w.compactString(name);
    w.compactArray([1], (w, p) => w.int32(p).compactNullableBytes(batch).taggedFields());
    w.taggedFields();
  });
  pw.taggedFields();
  const pr = await c.request(ApiKey.Produce, 9, pw, true);
  pr.taggedFields();
  const [pp] = pr.compactArray((r) => {
    r.compactString();
    const ps = r.compactArray((r) => {
      const idx = r.int32();
      const code = r.int16();
      const base = r.int64n();
      r.int64();
      r.int64();
      r.compactArray((r) => r.int32());
      r.compactNullableString();
      r.taggedFields();
      return { idx, code, base };
    });
    r.taggedFields();
    return ps[0];
  });
  t.equal(pr.int32(), 0, 'throttle');
  pr.taggedFields();
  t.equal(pr.remaining, 0);
  t.same(pp, { idx: 1, code: 0, base: 0 });

  // ListOffsets v7 (latest)
  const lo = new Writer().int32(-1).int8(0);
  lo.compactArray(['flex'], (w, name) => {
    w.compactString(name);
    w.compactArray([1], (w, p) => w.int32(p).int32(-1).int64(-1).taggedFields());
    w.taggedFields();
  });
  lo.taggedFields();
  const lr = await c.request(ApiKey.ListOffsets, 7, lo, true);
  lr.taggedFields();
  lr.int32();
  const [latest] = lr.compactArray((r) => {
    r.compactString();
    const [o] = r.compactArray((r) => {
      r.int32();
      r.int16();
      r.int64();
      const off = r.int64n();
      r.int32();
      r.taggedFields();
      return off;
    });
    r.taggedFields();
    return o;
  });
  lr.taggedFields();
  t.equal(lr.remaining, 0);
  t.equal(latest, 1, 'latest offset after one record');

  // DescribeConfigs v4
  const dc = new Writer().compactArray([0], (w) => {
    w.int8(2)
      .compactString('flex')
      .compactNullableArray(['retention.ms'], (w, k) => w.compactString(k));
    w.taggedFields();
  });
  dc.bool(false).bool(false).taggedFields();
  const dr = await c.request(ApiKey.DescribeConfigs, 4, dc, true);
  dr.taggedFields();
  dr.int32();
  const [desc] = dr.compactArray((r) => {
    r.int16();
    r.compactNullableString();
    r.int8();
    r.compactString();
    const cs = r.compactArray((r) => {
      const e = [r.compactString(), r.compactNullableString()];
      r.bool();
      r.int8();
      r.bool();
      r.compactArray(() => 0);
      r.int8();
      r.compactNullableString();
      r.taggedFields();
      return e;
    });
    r.taggedFields();
    return cs;
  });
  dr.taggedFields();
  t.equal(dr.remaining, 0);
  t.same(desc, [['retention.ms', '1000000']]);

  // DeleteTopics v6 (by name)
  const dt = new Writer().compactArray(['flex'], (w, n) =>
    w.compactNullableString(n).uuid(null).taggedFields(),
  );
  dt.int32(1000).taggedFields();
  const dtr = await c.request(ApiKey.DeleteTopics, 6, dt, true);
  dtr.taggedFields();
  dtr.int32();
  const [del] = dtr.compactArray((r) => {
    const name = r.compactNullableString();
    r.uuid();
    const code = r.int16();
    r.compactNullableString();
    r.taggedFields();
    return { name, code };
  });
  dtr.taggedFields();
  t.equal(dtr.remaining, 0);
  t.same(del, { name: 'flex', code: 0 });
  t.notOk(b.context.topics.get('flex'));
});
