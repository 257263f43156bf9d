// DeleteGroups request v0-v2: the group ids. v2 flexible.
import type { Reader } from '../codec.js';

export interface DeleteGroupsRequest {
  groupIds: string[];
}

export function decodeDeleteGroupsRequest(r: Reader, version: number): DeleteGroupsRequest {
  const flex = version >= 2;
  const groupIds = r.arr(flex, (r) => r.str(flex));
  r.tags(flex);
  return { groupIds };
}
