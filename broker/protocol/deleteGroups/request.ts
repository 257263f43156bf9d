// DeleteGroups request v0-v1: the group ids.
import type { Reader } from '../codec.js';

export function decodeDeleteGroupsRequest(r: Reader, _version: number): { groupIds: string[] } {
  return { groupIds: r.array((r) => r.string()) };
}
