// DescribeGroups request v0-v5. v3+ asks whether to include authorized operations; v5 flexible.
import type { Reader } from '../codec.js';

export interface DescribeGroupsRequest {
  groupIds: string[];
  includeAuthorizedOperations: boolean;
}

export function decodeDescribeGroupsRequest(r: Reader, version: number): DescribeGroupsRequest {
  const flex = version >= 5;
  const groupIds = r.arr(flex, (r) => r.str(flex));
  const includeAuthorizedOperations = version >= 3 ? r.bool() : false;
  r.tags(flex);
  return { groupIds, includeAuthorizedOperations };
}
