// Durable group state: committed offsets and the metadata a group needs to resume after a broker
// restart (generation, protocol, leader, members with their assignments). Kept in memory for reads
// and in one append log (appendlog.ts) for durability; memory changes only once the log says the
// record is on disk, so nothing is ever served that a crash could take back.
//
// Records are JSON (small, rare: one per commit request or completed rebalance), buffers base64.
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppendLog } from './appendlog.js';
import type { CommittedOffset } from './types.js';

export interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** Metadata for the group's chosen protocol only. */
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface StoredGroup {
  readonly groupId: string;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  readonly members: readonly StoredMember[];
}

export interface OffsetWrite extends CommittedOffset {
  readonly topic: string;
  readonly partition: number;
}

type Json = Record<string, unknown>;

/** group id -> topic -> partition -> offset */
type OffsetTable = Map<string, Map<string, Map<number, CommittedOffset>>>;

export class GroupStore {
  private readonly groups = new Map<string, StoredGroup>();
  private readonly offsets: OffsetTable = new Map();
  private log!: AppendLog;
  /** What open() had to repair, for the broker to log. */
  recovered: string | null = null;
  /** Records that were intact but not understood (skipped, counted for the log). */
  skipped = 0;

  static async open(dir: string, opts: { compactFloorBytes?: number } = {}): Promise<GroupStore> {
    await mkdir(dir, { recursive: true });
    // The directory may be brand new (here or by the broker's stateDir): its entry and its parent's
    // must be on disk too, or a crash could lose the whole log with every commit in it. Three
    // fsyncs per broker start.
    await syncDirs([dir, dirname(dir), dirname(dirname(dir))]);
    const store = new GroupStore();
    const opened = await AppendLog.open(join(dir, 'groups.log'), () => store.snapshot(), opts);
    store.log = opened.log;
    store.recovered = opened.recovered;
    for (const p of opened.payloads) {
      if (!store.apply(p)) store.skipped++;
    }
    return store;
  }

  get logBytes(): number {
    return this.log.bytes;
  }

  /** Durability counters: appends made durable, fsync rounds that did it, compactions. */
  stats(): { records: number; syncs: number; compactions: number; bytes: number } {
    return {
      records: this.log.records,
      syncs: this.log.syncs,
      compactions: this.log.compactions,
      bytes: this.log.bytes,
    };
  }

  storedGroups(): IterableIterator<StoredGroup> {
    return this.groups.values();
  }

  hasGroup(groupId: string): boolean {
    return this.groups.has(groupId) || this.offsets.has(groupId);
  }

  groupIds(): Set<string> {
    return new Set([...this.groups.keys(), ...this.offsets.keys()]);
  }

  offsetsOf(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> | undefined {
    return this.offsets.get(groupId);
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId)?.get(topic)?.get(partition);
  }

  /** Resolves once durable; visible to reads from that moment. */
  commitOffsets(groupId: string, writes: readonly OffsetWrite[]): Promise<void> {
    const payload = Buffer.from(JSON.stringify(offsetsJson(groupId, writes)));
    return this.log.append(payload, () => this.putOffsets(groupId, writes));
  }

  saveGroup(group: StoredGroup): Promise<void> {
    const payload = Buffer.from(JSON.stringify(groupJson(group)));
    return this.log.append(payload, () => this.groups.set(group.groupId, group));
  }

  /** Forgets the group's metadata and offsets once the deletion is durable. */
  deleteGroup(groupId: string): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ t: 'd', g: groupId }));
    return this.log.append(payload, () => this.forget(groupId));
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private forget(groupId: string): void {
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
  }

  private putOffsets(groupId: string, writes: readonly OffsetWrite[]): void {
    let byTopic = this.offsets.get(groupId);
    if (!byTopic) {
      byTopic = new Map();
      this.offsets.set(groupId, byTopic);
    }
    for (const w of writes) {
      let byPartition = byTopic.get(w.topic);
      if (!byPartition) {
        byPartition = new Map();
        byTopic.set(w.topic, byPartition);
      }
      byPartition.set(w.partition, {
        offset: w.offset,
        leaderEpoch: w.leaderEpoch,
        metadata: w.metadata,
        commitTimestamp: w.commitTimestamp,
        topicId: w.topicId ?? null,
      });
    }
  }

  /** Replays one record; false if it is not a record this version understands. */
  private apply(payload: Buffer): boolean {
    let rec: Json;
    try {
      rec = JSON.parse(payload.toString('utf8')) as Json;
    } catch {
      return false;
    }
    if (rec['t'] === 'o' && typeof rec['g'] === 'string' && Array.isArray(rec['o'])) {
      const writes: OffsetWrite[] = [];
      for (const o of rec['o'] as unknown[]) {
        if (!Array.isArray(o) || o.length < 6 || o.length > 7) return false;
        const [topic, partition, offset, leaderEpoch, metadata, commitTimestamp, topicId = null] =
          o as unknown[];
        if (
          typeof topic !== 'string' ||
          typeof partition !== 'number' ||
          typeof offset !== 'number' ||
          typeof leaderEpoch !== 'number' ||
          (metadata !== null && typeof metadata !== 'string') ||
          typeof commitTimestamp !== 'number' ||
          (topicId !== null && typeof topicId !== 'string')
        ) {
          return false;
        }
        writes.push({ topic, partition, offset, leaderEpoch, metadata, commitTimestamp, topicId });
      }
      this.putOffsets(rec['g'], writes);
      return true;
    }
    if (rec['t'] === 'd' && typeof rec['g'] === 'string') {
      this.forget(rec['g']);
      return true;
    }
    if (rec['t'] === 'g') {
      const g = parseGroup(rec);
      if (!g) return false;
      this.groups.set(g.groupId, g);
      return true;
    }
    return false;
  }

  /** The live state as the fewest records: one group record and one offsets record per group. */
  private snapshot(): Buffer[] {
    const out: Buffer[] = [];
    for (const g of this.groups.values()) out.push(Buffer.from(JSON.stringify(groupJson(g))));
    for (const [groupId, byTopic] of this.offsets) {
      const writes: OffsetWrite[] = [];
      for (const [topic, byPartition] of byTopic) {
        for (const [partition, c] of byPartition) writes.push({ topic, partition, ...c });
      }
      out.push(Buffer.from(JSON.stringify(offsetsJson(groupId, writes))));
    }
    return out;
  }
}

function offsetsJson(groupId: string, writes: readonly OffsetWrite[]): Json {
  return {
    t: 'o',
    g: groupId,
    o: writes.map((w) => [
      w.topic,
      w.partition,
      w.offset,
      w.leaderEpoch,
      w.metadata,
      w.commitTimestamp,
      w.topicId ?? null,
    ]),
  };
}

function groupJson(g: StoredGroup): Json {
  return {
    t: 'g',
    g: g.groupId,
    gen: g.generationId,
    pt: g.protocolType,
    p: g.protocolName,
    l: g.leaderId,
    m: g.members.map((m) => ({
      id: m.memberId,
      inst: m.groupInstanceId,
      cid: m.clientId,
      host: m.clientHost,
      st: m.sessionTimeoutMs,
      rt: m.rebalanceTimeoutMs,
      md: m.metadata.toString('base64'),
      as: m.assignment.toString('base64'),
    })),
  };
}

const str = (v: unknown): v is string => typeof v === 'string';
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function parseGroup(rec: Json): StoredGroup | null {
  const { g, gen, pt, p, l, m } = rec;
  if (!str(g) || !int(gen) || !strOrNull(pt) || !strOrNull(p) || !strOrNull(l) || !Array.isArray(m))
    return null;
  const members: StoredMember[] = [];
  for (const x of m as Json[]) {
    if (typeof x !== 'object' || x === null) return null;
    const { id, inst, cid, host, st, rt, md, as } = x;
    if (
      !str(id) ||
      !strOrNull(inst) ||
      !str(cid) ||
      !str(host) ||
      !int(st) ||
      !int(rt) ||
      !str(md) ||
      !str(as)
    ) {
      return null;
    }
    members.push({
      memberId: id,
      groupInstanceId: inst,
      clientId: cid,
      clientHost: host,
      sessionTimeoutMs: st,
      rebalanceTimeoutMs: rt,
      metadata: Buffer.from(md, 'base64'),
      assignment: Buffer.from(as, 'base64'),
    });
  }
  return { groupId: g, generationId: gen, protocolType: pt, protocolName: p, leaderId: l, members };
}

async function syncDirs(dirs: string[]): Promise<void> {
  for (const d of dirs) {
    const fh = await open(d, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
