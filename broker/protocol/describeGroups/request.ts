// DescribeGroups request v0-v4. v3+ asks whether to include authorized operations.
import type { Reader } from '../codec.js';

export interface DescribeGroupsRequest {
  groupIds: string[];
  includeAuthorizedOperations: boolean;
}

export function decodeDescribeGroupsRequest(r: Reader, version: number): DescribeGroupsRequest {
  const groupIds = r.array((r) => r.string());
  const includeAuthorizedOperations = version >= 3 ? r.bool() : false;
  return { groupIds, includeAuthorizedOperations };
}
