// Shapes shared by the group coordinator, its durable store and the wire handlers.
// Wire handlers decode requests into these and encode the results; the coordinator never sees bytes
// of the Kafka framing, only the opaque protocol metadata and assignments it relays.

/** Kafka's group states, named as DescribeGroups reports them. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface ProtocolOffer {
  readonly name: string;
  /** Opaque to the broker: the client's subscription for that assignor. */
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly groupId: string;
  /** '' for a member joining for the first time. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  /** JoinGroup v0 has none; Kafka uses the session timeout then. */
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly ProtocolOffer[];
  /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id, then joins with it. */
  readonly requireKnownMemberId: boolean;
}

export interface JoinMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leaderId: string;
  readonly memberId: string;
  /** Filled for the leader only: every member's metadata for the chosen protocol. */
  readonly members: readonly JoinMember[];
}

export interface SyncRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** SyncGroup v5+: what the client believes the group uses; null = not stated. */
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
  /** Only the leader's are used; followers send an empty list. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface SyncResult {
  readonly errorCode: number;
  readonly assignment: Buffer;
  /** The group's protocol, on success (SyncGroup v5+ echoes it). */
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeaveMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeaveResult {
  readonly errorCode: number;
  readonly members: readonly (LeaveMember & { readonly errorCode: number })[];
}

export interface CommittedOffset {
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  readonly commitTimestamp: number;
  /**
   * Id of the topic the offset was committed against. A topic deleted and created again under the
   * same name gets a new id, and offsets into the old log must not position readers of the new one.
   */
  readonly topicId?: string | null;
}

export interface CommitPartition {
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

export interface CommitRequest {
  readonly groupId: string;
  /** -1 with memberId '' for a commit outside group management (simple consumer, kcat -o). */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly CommitPartition[] }[];
}

export type CommitResult = {
  readonly name: string;
  readonly partitions: { readonly partition: number; errorCode: number }[];
}[];

export interface FetchedOffset {
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  readonly errorCode: number;
}

export type FetchResult = { readonly name: string; readonly partitions: FetchedOffset[] }[];

export interface DescribedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface DescribedGroup {
  readonly errorCode: number;
  readonly groupId: string;
  readonly state: GroupState;
  readonly protocolType: string;
  readonly protocolName: string;
  readonly members: readonly DescribedMember[];
}
