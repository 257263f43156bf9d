// FindCoordinator request v0-v3. v0: the group id; v1+ adds the key type (0 group, 1 transaction);
// v3 is the first flexible version.
import type { Reader } from '../codec.js';

export const KeyType = { GROUP: 0, TRANSACTION: 1 } as const;

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export function decodeFindCoordinatorRequest(r: Reader, version: number): FindCoordinatorRequest {
  const flex = version >= 3;
  const key = r.str(flex);
  const keyType = version >= 1 ? r.int8() : KeyType.GROUP;
  r.tags(flex);
  return { key, keyType };
}
