// ListGroups request v0-v4. Empty before v3; v3+ flexible; v4+ filters by group state.
import type { Reader } from '../codec.js';

export interface ListGroupsRequest {
  /** null = every state. */
  statesFilter: string[] | null;
}

export function decodeListGroupsRequest(r: Reader, version: number): ListGroupsRequest {
  const flex = version >= 3;
  const states = version >= 4 ? r.arr(flex, (r) => r.str(flex)) : [];
  r.tags(flex);
  return { statesFilter: states.length > 0 ? states : null };
}
