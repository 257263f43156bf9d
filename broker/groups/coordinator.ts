// The group coordinator: Kafka's classic consumer-group protocol for every group on this broker.
//
// States (as in Kafka): Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and back to
// PreparingRebalance whenever membership or subscriptions change.
// - JoinGroup moves the group to PreparingRebalance and waits until every known member has
//   rejoined, or the largest rebalance timeout passes (members that did not rejoin are dropped).
//   The first rebalance of an empty group waits a short initial delay, extended while members keep
//   arriving, so a fleet of consumers starting together settles in one generation, not N.
// - On completion the generation increments, the protocol is chosen by vote, and the leader gets
//   every member's subscription; it computes the assignment client-side and sends it in SyncGroup,
//   which this broker persists and relays to each member.
// - A member must heartbeat within its session timeout or it is removed and the group rebalances;
//   members whose JoinGroup/SyncGroup is parked are exempt while they wait.
// Offsets and the group's metadata are persisted through GroupStore before they are acknowledged.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import { ErrorCode as E } from '../protocol/errors.js';
import { Group, Member } from './group.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import type { GroupStore, OffsetWrite, StoredGroup } from './store.js';
import type {
  CommitRequest,
  CommitResult,
  CommittedOffset,
  DescribedGroup,
  FetchResult,
  HeartbeatRequest,
  JoinRequest,
  JoinResult,
  LeaveMember,
  LeaveResult,
  SyncRequest,
  SyncResult,
} from './types.js';

export interface CoordinatorSettings {
  /** Kafka's group.min.session.timeout.ms / group.max.session.timeout.ms. */
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** Kafka's group.initial.rebalance.delay.ms. */
  readonly initialRebalanceDelayMs: number;
  /** Kafka's offset.metadata.max.bytes. */
  readonly maxMetadataBytes: number;
}

export const DEFAULT_SETTINGS: CoordinatorSettings = {
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3000,
  maxMetadataBytes: 4096,
};

export interface CoordinatorOptions {
  readonly store: GroupStore;
  readonly log: Logger;
  readonly settings?: Partial<CoordinatorSettings>;
  readonly scheduler?: Scheduler;
  /** Commits to partitions that do not exist are refused when this is given. */
  readonly partitionExists?: (topic: string, partition: number) => boolean;
  /** The current id of a topic, if it exists: offsets committed against another id are stale. */
  readonly topicIdOf?: (topic: string) => string | undefined;
  readonly now?: () => number;
}

const EMPTY = Buffer.alloc(0);

function joinError(errorCode: number, memberId: string): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leaderId: '',
    memberId,
    members: [],
  };
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly settings: CoordinatorSettings;
  private readonly store: GroupStore;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly partitionExists: ((topic: string, partition: number) => boolean) | undefined;
  private readonly topicIdOf: ((topic: string) => string | undefined) | undefined;
  private readonly now: () => number;
  private closed = false;

  constructor(opts: CoordinatorOptions) {
    this.settings = { ...DEFAULT_SETTINGS, ...opts.settings };
    this.store = opts.store;
    this.log = opts.log;
    this.scheduler = opts.scheduler ?? realScheduler;
    this.partitionExists = opts.partitionExists;
    this.topicIdOf = opts.topicIdOf;
    this.now = opts.now ?? Date.now;
    for (const stored of this.store.storedGroups()) this.restore(stored);
  }

  /**
   * A group persisted with members comes back Stable with its assignment, so its consumers carry on
   * with their generation after a broker restart; their session timers start now, and members that
   * never return expire and trigger a rebalance as usual.
   */
  private restore(s: StoredGroup): void {
    const g = new Group(s.groupId);
    g.generationId = s.generationId;
    // An Empty group keeps its protocol type too (see completeJoin): still a consumer group to tools.
    g.protocolType = s.protocolType;
    this.groups.set(s.groupId, g);
    if (s.members.length === 0 || !s.protocolName || !s.protocolType) return;
    g.protocolName = s.protocolName;
    g.leaderId = s.leaderId;
    for (const sm of s.members) {
      const m = new Member(sm.memberId, sm.groupInstanceId, {
        protocolType: s.protocolType,
        protocols: [{ name: s.protocolName, metadata: sm.metadata }],
        clientId: sm.clientId,
        clientHost: sm.clientHost,
        sessionTimeoutMs: sm.sessionTimeoutMs,
        rebalanceTimeoutMs: sm.rebalanceTimeoutMs,
      });
      m.assignment = sm.assignment;
      g.members.set(m.memberId, m);
      if (sm.groupInstanceId !== null) g.instances.set(sm.groupInstanceId, m.memberId);
    }
    if (!g.leaderId || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value ?? null;
    g.state = 'Stable';
    for (const m of g.members.values()) this.scheduleSession(g, m);
  }

  // ---- JoinGroup ----

  join(req: JoinRequest): Promise<JoinResult> {
    const s = this.settings;
    if (this.closed) return Promise.resolve(joinError(E.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (req.groupId === '') return Promise.resolve(joinError(E.INVALID_GROUP_ID, req.memberId));
    if (req.sessionTimeoutMs < s.minSessionTimeoutMs || req.sessionTimeoutMs > s.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(E.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    const existing = this.groups.get(req.groupId);
    if (!existing && req.memberId !== '')
      return Promise.resolve(joinError(E.UNKNOWN_MEMBER_ID, req.memberId));
    // Checked before a new group is created, so a refused join leaves no empty group behind.
    if (!(existing ?? new Group(req.groupId)).supports(req.protocolType, req.protocols)) {
      return Promise.resolve(joinError(E.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    const group = existing ?? this.groupFor(req.groupId);
    if (group.isFenced(req.memberId, req.groupInstanceId) && req.memberId !== '') {
      return Promise.resolve(joinError(E.FENCED_INSTANCE_ID, req.memberId));
    }
    if (req.memberId === '') {
      const memberId = `${req.clientId}-${randomUUID()}`;
      if (req.groupInstanceId !== null) {
        // A static member restarting: the new incarnation takes the instance id over and the old
        // member id is fenced, so a zombie of the previous process can no longer commit or sync.
        // (Kafka can also skip the rebalance here; this broker rebalances, which is always safe.)
        const previous = group.members.get(group.instances.get(req.groupInstanceId) ?? '');
        if (previous) {
          this.removeMember(
            group,
            previous,
            'replaced by a new instance with its group.instance.id',
            false,
            E.FENCED_INSTANCE_ID,
          );
        }
        return this.addMemberAndRebalance(group, memberId, req);
      }
      if (req.requireKnownMemberId) {
        // KIP-394: hand out the id first, so a client that times out and retries reuses it
        // instead of leaving an orphan member behind that would stall the rebalance.
        const g = group;
        const cancel = this.scheduler.after(req.sessionTimeoutMs, () => {
          if (g.pending.delete(memberId)) this.tryCompleteJoin(g);
        });
        group.pending.set(memberId, cancel);
        return Promise.resolve(joinError(E.MEMBER_ID_REQUIRED, memberId));
      }
      return this.addMemberAndRebalance(group, memberId, req);
    }
    const cancelPending = group.pending.get(req.memberId);
    if (cancelPending) {
      cancelPending();
      group.pending.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const member = group.members.get(req.memberId);
    if (!member) return Promise.resolve(joinError(E.UNKNOWN_MEMBER_ID, req.memberId));
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req);
      case 'CompletingRebalance':
        // A retried JoinGroup for the generation just formed: answer it again unless it changed.
        if (member.matches(req.protocols)) return Promise.resolve(this.joinResult(group, member));
        return this.updateMemberAndRebalance(group, member, req);
      case 'Stable':
        // The leader rejoining means it wants a new assignment (e.g. topic metadata changed).
        if (member.memberId === group.leaderId || !member.matches(req.protocols)) {
          return this.updateMemberAndRebalance(group, member, req);
        }
        this.scheduleSession(group, member);
        return Promise.resolve(this.joinResult(group, member));
      default:
        return Promise.resolve(joinError(E.UNKNOWN_MEMBER_ID, req.memberId));
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member = new Member(memberId, req.groupInstanceId, req);
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    if (req.groupInstanceId !== null) group.instances.set(req.groupInstanceId, memberId);
    if (!group.leaderId) group.leaderId = memberId;
    const p = new Promise<JoinResult>((resolve) => {
      member.awaitingJoin = resolve;
    });
    if (group.initialDelay) group.joinedDuringDelay = true;
    this.log.info({ group: group.groupId, member: memberId, clientId: req.clientId }, 'group: member joined');
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
    this.tryCompleteJoin(group);
    return p;
  }

  private updateMemberAndRebalance(group: Group, member: Member, req: JoinRequest): Promise<JoinResult> {
    // A JoinGroup still parked for this member came on a connection the client has given up on.
    member.awaitingJoin?.(joinError(E.REBALANCE_IN_PROGRESS, member.memberId));
    member.update(req);
    const p = new Promise<JoinResult>((resolve) => {
      member.awaitingJoin = resolve;
    });
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    this.tryCompleteJoin(group);
    return p;
  }

  private maybePrepareRebalance(group: Group, reason: string): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance' || group.state === 'Empty') {
      this.prepareRebalance(group, reason);
    }
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      // Followers waiting for an assignment of a generation that will never be completed.
      for (const m of group.members.values()) {
        m.assignment = EMPTY;
        this.completeSync(group, m, { errorCode: E.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    group.joinTimer?.();
    const timeout = group.maxRebalanceTimeoutMs();
    this.log.info(
      { group: group.groupId, generation: group.generationId, members: group.members.size, reason },
      'group: preparing rebalance',
    );
    if (wasEmpty && this.settings.initialRebalanceDelayMs > 0) {
      group.initialDelay = true;
      group.joinedDuringDelay = false;
      const first = Math.min(this.settings.initialRebalanceDelayMs, timeout);
      group.delayBudgetMs = timeout - first;
      group.joinTimer = this.scheduler.after(first, () => this.onInitialDelay(group));
      return;
    }
    group.joinTimer = this.scheduler.after(timeout, () => this.completeJoin(group));
  }

  private onInitialDelay(group: Group): void {
    group.joinTimer = null;
    if (group.joinedDuringDelay && group.delayBudgetMs > 0) {
      const next = Math.min(this.settings.initialRebalanceDelayMs, group.delayBudgetMs);
      group.delayBudgetMs -= next;
      group.joinedDuringDelay = false;
      group.joinTimer = this.scheduler.after(next, () => this.onInitialDelay(group));
      return;
    }
    group.initialDelay = false;
    this.completeJoin(group);
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && !group.initialDelay && group.allMembersJoined()) {
      this.completeJoin(group);
    }
  }

  /** Ends the join phase: drops members that did not rejoin and starts the next generation. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    group.joinTimer?.();
    group.joinTimer = null;
    group.initialDelay = false;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) this.removeMember(group, m, 'did not rejoin within the rebalance timeout', false);
    }
    group.generationId++;
    if (group.members.size === 0) {
      // protocolType stays, as in Kafka: DescribeGroups and ListGroups go on reporting an Empty
      // group with committed offsets as 'consumer', which is how kafka-consumer-groups and admin
      // clients tell consumer groups apart. The next member to join sets it again (any type may).
      group.state = 'Empty';
      group.protocolName = null;
      group.leaderId = null;
      this.log.info({ group: group.groupId, generation: group.generationId }, 'group: empty');
      this.persistGroup(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.leaderId || !group.members.has(group.leaderId))
      group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    this.log.info(
      {
        group: group.groupId,
        generation: group.generationId,
        protocol: group.protocolName,
        leader: group.leaderId,
        members: group.members.size,
      },
      'group: join complete, awaiting assignment from leader',
    );
    for (const m of group.members.values()) this.completeJoin1(group, m, this.joinResult(group, m));
  }

  private joinResult(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: E.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.metadataFor(group.protocolName),
          }))
        : [],
    };
  }

  private completeJoin1(group: Group, member: Member, result: JoinResult): void {
    const cb = member.awaitingJoin;
    member.awaitingJoin = null;
    cb?.(result);
    if (group.members.get(member.memberId) === member) this.scheduleSession(group, member);
  }

  private completeSync(group: Group, member: Member, result: SyncResult): void {
    const cb = member.awaitingSync;
    if (!cb) return;
    member.awaitingSync = null;
    cb(result);
    if (group.members.get(member.memberId) === member) this.scheduleSession(group, member);
  }

  // ---- session expiry ----

  private scheduleSession(group: Group, member: Member): void {
    member.sessionTimer?.();
    member.sessionTimer = this.scheduler.after(member.sessionTimeoutMs, () => {
      member.sessionTimer = null;
      // A parked JoinGroup/SyncGroup counts as alive: the client is waiting on us, not silent.
      if (member.awaitingJoin || member.awaitingSync) return;
      if (group.members.get(member.memberId) !== member) return;
      this.removeMember(group, member, `session timeout (${member.sessionTimeoutMs} ms) expired`, true);
    });
  }

  /** Removes a member; with rebalance, moves the group on as its state requires. */
  private removeMember(
    group: Group,
    member: Member,
    reason: string,
    rebalance: boolean,
    parkedError: number = E.UNKNOWN_MEMBER_ID,
  ): void {
    member.sessionTimer?.();
    member.sessionTimer = null;
    group.members.delete(member.memberId);
    if (member.groupInstanceId !== null && group.instances.get(member.groupInstanceId) === member.memberId) {
      group.instances.delete(member.groupInstanceId);
    }
    const join = member.awaitingJoin;
    member.awaitingJoin = null;
    join?.(joinError(parkedError, member.memberId));
    const sync = member.awaitingSync;
    member.awaitingSync = null;
    sync?.({ errorCode: parkedError, assignment: EMPTY });
    if (group.leaderId === member.memberId) group.leaderId = group.members.keys().next().value ?? null;
    this.log.info({ group: group.groupId, member: member.memberId, reason }, 'group: member removed');
    if (!rebalance) return;
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.prepareRebalance(group, `member ${member.memberId} left: ${reason}`);
      this.tryCompleteJoin(group);
    } else if (group.state === 'PreparingRebalance') {
      this.tryCompleteJoin(group);
    }
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest): Promise<SyncResult> {
    const fail = (errorCode: number) => Promise.resolve({ errorCode, assignment: EMPTY });
    if (req.groupId === '') return fail(E.INVALID_GROUP_ID);
    const group = this.groups.get(req.groupId);
    if (group?.isFenced(req.memberId, req.groupInstanceId)) return fail(E.FENCED_INSTANCE_ID);
    const member = group?.members.get(req.memberId);
    if (!group || !member) return fail(E.UNKNOWN_MEMBER_ID);
    if (req.generationId !== group.generationId) return fail(E.ILLEGAL_GENERATION);
    if (
      (req.protocolType != null && req.protocolType !== group.protocolType) ||
      (req.protocolName != null && group.protocolName !== null && req.protocolName !== group.protocolName)
    ) {
      return fail(E.INCONSISTENT_GROUP_PROTOCOL);
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return fail(E.REBALANCE_IN_PROGRESS);
      case 'Stable':
        this.scheduleSession(group, member);
        return Promise.resolve(this.syncResult(group, member));
      case 'CompletingRebalance':
        break;
      default:
        return fail(E.UNKNOWN_MEMBER_ID);
    }
    member.awaitingSync?.({ errorCode: E.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    const p = new Promise<SyncResult>((resolve) => {
      member.awaitingSync = resolve;
    });
    if (member.memberId === group.leaderId) this.applyLeaderAssignment(group, req);
    return p;
  }

  /** Persists the leader's assignment, then makes the group Stable and answers every member. */
  private applyLeaderAssignment(group: Group, req: SyncRequest): void {
    const given = new Map<string, Buffer>();
    for (const a of req.assignments) given.set(a.memberId, a.assignment);
    const generation = group.generationId;
    const stored: StoredGroup = {
      groupId: group.groupId,
      generationId: generation,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        metadata: m.metadataFor(group.protocolName),
        // A member the leader left out gets nothing rather than a stale assignment.
        assignment: given.get(m.memberId) ?? EMPTY,
      })),
    };
    const current = () => group.state === 'CompletingRebalance' && group.generationId === generation;
    this.store.saveGroup(stored).then(
      () => {
        if (this.closed || !current()) return;
        for (const m of group.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY;
        group.state = 'Stable';
        this.log.info({ group: group.groupId, generation }, 'group: stable');
        for (const m of group.members.values()) this.completeSync(group, m, this.syncResult(group, m));
      },
      (err: unknown) => {
        if (this.closed || !current()) return;
        this.log.error({ group: group.groupId, err }, 'group: could not persist the assignment');
        for (const m of group.members.values()) {
          this.completeSync(group, m, { errorCode: E.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
        }
        this.prepareRebalance(group, 'assignment could not be persisted');
      },
    );
  }

  private syncResult(group: Group, member: Member): SyncResult {
    return {
      errorCode: E.NONE,
      assignment: member.assignment,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
    };
  }

  private persistGroup(group: Group): void {
    this.store
      .saveGroup({
        groupId: group.groupId,
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: null,
        leaderId: null,
        members: [],
      })
      .catch((err: unknown) => {
        // Only the generation number and protocol type are at stake: the next stable generation
        // rewrites the group.
        this.log.warn({ group: group.groupId, err }, 'group: could not persist empty group');
      });
  }

  // ---- Heartbeat ----

  heartbeat(req: HeartbeatRequest): number {
    if (req.groupId === '') return E.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (group?.isFenced(req.memberId, req.groupInstanceId)) return E.FENCED_INSTANCE_ID;
    const member = group?.members.get(req.memberId);
    if (!group || !member) return E.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    this.scheduleSession(group, member);
    // CompletingRebalance: members may heartbeat between JoinGroup and SyncGroup; that is fine.
    return group.state === 'PreparingRebalance' ? E.REBALANCE_IN_PROGRESS : E.NONE;
  }

  // ---- LeaveGroup ----

  leave(groupId: string, leaving: readonly LeaveMember[]): LeaveResult {
    if (groupId === '') return { errorCode: E.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(groupId);
    const members = leaving.map((l) => {
      if (group?.pending.has(l.memberId)) {
        group.pending.get(l.memberId)!();
        group.pending.delete(l.memberId);
        this.tryCompleteJoin(group);
        return { ...l, errorCode: E.NONE };
      }
      if (group?.isFenced(l.memberId, l.groupInstanceId) && l.memberId !== '') {
        return { ...l, errorCode: E.FENCED_INSTANCE_ID };
      }
      // v3+: a static member may leave by instance id alone.
      const id =
        l.memberId === '' && l.groupInstanceId !== null
          ? group?.instances.get(l.groupInstanceId)
          : l.memberId;
      const m = id === undefined ? undefined : group?.members.get(id);
      if (!group || !m) return { ...l, errorCode: E.UNKNOWN_MEMBER_ID };
      this.removeMember(group, m, 'left the group', true);
      return { ...l, errorCode: E.NONE };
    });
    return { errorCode: E.NONE, members };
  }

  // ---- OffsetCommit / OffsetFetch ----

  async commit(req: CommitRequest): Promise<CommitResult> {
    const groupError = this.commitGroupError(req);
    const now = this.now();
    const writes: OffsetWrite[] = [];
    const result: CommitResult = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode: number = groupError;
        if (errorCode === E.NONE) errorCode = this.partitionError(t.name, p.partition, p.offset, p.metadata);
        if (errorCode === E.NONE) {
          writes.push({
            topic: t.name,
            partition: p.partition,
            offset: p.offset,
            leaderEpoch: p.leaderEpoch,
            metadata: p.metadata,
            commitTimestamp: now,
            topicId: this.topicIdOf?.(t.name) ?? null,
          });
        }
        return { partition: p.partition, errorCode };
      }),
    }));
    if (writes.length === 0) return result;
    if (!this.groups.has(req.groupId)) this.groupFor(req.groupId);
    try {
      await this.store.commitOffsets(req.groupId, writes);
    } catch (err) {
      // Retriable for clients: they commit again, and nothing was acknowledged that is not on disk.
      this.log.error({ group: req.groupId, err }, 'group: could not persist committed offsets');
      for (const t of result) {
        for (const p of t.partitions) if (p.errorCode === E.NONE) p.errorCode = E.COORDINATOR_NOT_AVAILABLE;
      }
    }
    return result;
  }

  private commitGroupError(req: CommitRequest): number {
    if (this.closed) return E.COORDINATOR_NOT_AVAILABLE;
    if (req.groupId === '') return E.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (!group) {
      // Outside group management (generation -1) anyone may commit; a generation for a group that
      // does not exist is a stale or confused member.
      return req.generationId < 0 ? E.NONE : E.ILLEGAL_GENERATION;
    }
    if (group.isFenced(req.memberId, req.groupInstanceId)) return E.FENCED_INSTANCE_ID;
    if (req.generationId < 0 && group.state === 'Empty') return E.NONE;
    if (group.state === 'CompletingRebalance') return E.REBALANCE_IN_PROGRESS;
    const member = group.members.get(req.memberId);
    if (!member) return E.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return E.ILLEGAL_GENERATION;
    this.scheduleSession(group, member);
    return E.NONE;
  }

  private partitionError(topic: string, partition: number, offset: number, metadata: string | null): number {
    if (metadata !== null && Buffer.byteLength(metadata) > this.settings.maxMetadataBytes) {
      return E.OFFSET_METADATA_TOO_LARGE;
    }
    if (this.partitionExists && !this.partitionExists(topic, partition)) return E.UNKNOWN_TOPIC_OR_PARTITION;
    // Any value is kept, as Kafka does: a negative one is how a client says "no position, reset
    // me" (kafkajs commits -1 or -2 to recover from OFFSET_OUT_OF_RANGE once retention has removed
    // its committed offset, and admin.resetOffsets does the same); OffsetFetch hands it back and
    // the client resolves it with ListOffsets. Refusing it left such a consumer crashed for good.
    // Only what this broker cannot hold exactly (beyond 2^53) is refused.
    if (!Number.isSafeInteger(offset)) return E.INVALID_COMMIT_OFFSET_SIZE;
    return E.NONE;
  }

  /** Committed offsets; topics null = every partition the group has committed. */
  fetch(
    groupId: string,
    topics: readonly { readonly name: string; readonly partitions: readonly number[] }[] | null,
  ): FetchResult {
    const committed = this.store.offsetsOf(groupId);
    // An offset committed against an earlier topic of the same name (deleted, then created again)
    // says nothing about the new log: reading on from it could skip the new topic's first records.
    const current = (topic: string, c: CommittedOffset | undefined) => {
      if (!c) return undefined;
      const id = c.topicId ? this.topicIdOf?.(topic) : undefined;
      return id !== undefined && id !== c.topicId ? undefined : c;
    };
    const found = (partition: number, c: CommittedOffset) => ({
      partition,
      offset: c.offset,
      leaderEpoch: c.leaderEpoch,
      metadata: c.metadata,
      errorCode: E.NONE,
    });
    if (topics === null) {
      const out: FetchResult = [];
      for (const [name, byPartition] of committed ?? []) {
        const partitions = [...byPartition].filter(([, c]) => current(name, c)).map(([p, c]) => found(p, c));
        if (partitions.length > 0) out.push({ name, partitions });
      }
      return out;
    }
    return topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition) => {
        const c = current(t.name, committed?.get(t.name)?.get(partition));
        // No commit yet: offset -1 tells the client to apply its reset policy.
        return c
          ? found(partition, c)
          : { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: E.NONE };
      }),
    }));
  }

  // ---- DescribeGroups / ListGroups ----

  describe(groupIds: readonly string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      if (groupId === '') {
        return {
          errorCode: E.INVALID_GROUP_ID,
          groupId,
          state: 'Dead',
          protocolType: '',
          protocolName: '',
          members: [],
        };
      }
      const g =
        this.groups.get(groupId) ?? (this.store.hasGroup(groupId) ? this.groupFor(groupId) : undefined);
      if (!g) {
        return { errorCode: E.NONE, groupId, state: 'Dead', protocolType: '', protocolName: '', members: [] };
      }
      const stable = g.state === 'Stable';
      return {
        errorCode: E.NONE,
        groupId,
        state: g.state,
        protocolType: g.protocolType ?? '',
        protocolName: stable ? (g.protocolName ?? '') : '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: stable ? m.metadataFor(g.protocolName) : EMPTY,
          assignment: stable ? m.assignment : EMPTY,
        })),
      };
    });
  }

  list(): { groupId: string; protocolType: string; state: string }[] {
    const ids = new Set([...this.groups.keys(), ...this.store.groupIds()]);
    return [...ids].sort().map((groupId) => ({
      groupId,
      protocolType: this.groups.get(groupId)?.protocolType ?? '',
      // A group known only by its offsets has no members: Empty, as Kafka reports it.
      state: this.groups.get(groupId)?.state ?? 'Empty',
    }));
  }

  // ---- DeleteGroups ----

  /** Deletes empty groups with their offsets (ops resetting a consumer group for good). */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        if (groupId === '') return { groupId, errorCode: E.INVALID_GROUP_ID };
        const group = this.groups.get(groupId);
        if (!group && !this.store.hasGroup(groupId)) return { groupId, errorCode: E.GROUP_ID_NOT_FOUND };
        if (group && group.state !== 'Empty') return { groupId, errorCode: E.NON_EMPTY_GROUP };
        // Gone from memory at once, so a member joining meanwhile starts a fresh group whose
        // records land in the log after the deletion.
        if (group) {
          group.state = 'Dead';
          for (const cancel of group.pending.values()) cancel();
          group.pending.clear();
          this.groups.delete(groupId);
        }
        try {
          await this.store.deleteGroup(groupId);
          this.log.info({ group: groupId }, 'group: deleted');
          return { groupId, errorCode: E.NONE };
        } catch (err) {
          this.log.error({ group: groupId, err }, 'group: could not persist the deletion');
          return { groupId, errorCode: E.COORDINATOR_NOT_AVAILABLE };
        }
      }),
    );
  }

  /** Snapshot for tests and ops: state, generation and member ids of one group. */
  inspect(groupId: string): {
    state: string;
    generationId: number;
    leaderId: string | null;
    members: string[];
  } {
    const g = this.groups.get(groupId);
    if (!g) return { state: 'Dead', generationId: -1, leaderId: null, members: [] };
    return {
      state: g.state,
      generationId: g.generationId,
      leaderId: g.leaderId,
      members: [...g.members.keys()],
    };
  }

  private groupFor(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) {
      g = new Group(groupId);
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** Stops timers and answers parked requests, then closes the store (waiting for queued writes). */
  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) {
      g.joinTimer?.();
      g.joinTimer = null;
      for (const cancel of g.pending.values()) cancel();
      g.pending.clear();
      for (const m of g.members.values()) {
        m.sessionTimer?.();
        m.sessionTimer = null;
        const join = m.awaitingJoin;
        m.awaitingJoin = null;
        join?.(joinError(E.COORDINATOR_NOT_AVAILABLE, m.memberId));
        const sync = m.awaitingSync;
        m.awaitingSync = null;
        sync?.({ errorCode: E.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
      }
    }
    await this.store.close();
  }
}
