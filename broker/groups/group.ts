// One consumer group's in-memory state: its members and what the state machine needs to decide
// (who has rejoined, which protocol all members support). The transitions live in coordinator.ts.
import type { Cancel } from './scheduler.js';
import type { GroupState, JoinRequest, JoinResult, ProtocolOffer, SyncResult } from './types.js';

const EMPTY = Buffer.alloc(0);

export class Member {
  protocolType: string;
  protocols: readonly ProtocolOffer[];
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  assignment: Buffer = EMPTY;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((r: JoinResult) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((r: SyncResult) => void) | null = null;
  sessionTimer: Cancel | null = null;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    req: Pick<
      JoinRequest,
      'protocolType' | 'protocols' | 'clientId' | 'clientHost' | 'sessionTimeoutMs' | 'rebalanceTimeoutMs'
    >,
  ) {
    this.protocolType = req.protocolType;
    this.protocols = req.protocols;
    this.clientId = req.clientId;
    this.clientHost = req.clientHost;
    this.sessionTimeoutMs = req.sessionTimeoutMs;
    this.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  }

  update(req: JoinRequest): void {
    this.protocolType = req.protocolType;
    this.protocols = req.protocols;
    this.clientId = req.clientId;
    this.clientHost = req.clientHost;
    this.sessionTimeoutMs = req.sessionTimeoutMs;
    this.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
  }

  /** Same protocols with the same metadata, in the same order: a rejoin that changes nothing. */
  matches(protocols: readonly ProtocolOffer[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i]!;
      return p.name === mine.name && p.metadata.equals(mine.metadata);
    });
  }

  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Static membership (KIP-345): group.instance.id -> the member id currently holding it. */
  readonly instances = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined; value cancels their expiry. */
  readonly pending = new Map<string, Cancel>();
  /** Completes the join phase when it fires (rebalance timeout or initial delay). */
  joinTimer: Cancel | null = null;
  /** While the first rebalance of an empty group waits for more members to arrive. */
  initialDelay = false;
  /** A member joined during the current initial-delay window, so the window is extended. */
  joinedDuringDelay = false;
  /** Rebalance time still available to extend the initial delay. */
  delayBudgetMs = 0;

  constructor(readonly groupId: string) {}

  /**
   * Whether a member offering these protocols can join: an empty group takes any non-empty offer;
   * otherwise the protocol type must match and at least one protocol must be supported by every
   * member, the new one included.
   */
  supports(protocolType: string, protocols: readonly ProtocolOffer[]): boolean {
    if (protocolType === '' || protocols.length === 0) return false;
    if (this.members.size === 0) return true;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((p) =>
      [...this.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)),
    );
  }

  /** Every member's JoinGroup is waiting and no handed-out member id is still to join. */
  allMembersJoined(): boolean {
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return this.pending.size === 0;
  }

  /** A request naming an instance id held by another member id comes from a fenced zombie. */
  isFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const holder = this.instances.get(groupInstanceId);
    return holder !== undefined && holder !== memberId;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /**
   * Kafka's protocol vote: among protocols every member supports, each member votes for the first
   * of them in its own preference order; most votes wins (ties: the first member's preference).
   */
  selectProtocol(): string | null {
    const members = [...this.members.values()];
    const first = members[0];
    if (!first) return null;
    const candidates = first.protocols
      .map((p) => p.name)
      .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    if (candidates.length === 0) return null;
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = candidates[0]!;
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }
}
