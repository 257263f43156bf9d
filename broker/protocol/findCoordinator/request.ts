// FindCoordinator request v0-v2. v0: the group id; v1+ adds the key type (0 group, 1 transaction).
import type { Reader } from '../codec.js';

export const KeyType = { GROUP: 0, TRANSACTION: 1 } as const;

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export function decodeFindCoordinatorRequest(r: Reader, version: number): FindCoordinatorRequest {
  const key = r.string();
  const keyType = version >= 1 ? r.int8() : KeyType.GROUP;
  return { key, keyType };
}
