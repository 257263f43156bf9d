// Error codes the group APIs return. The shared table (protocol/errors.ts) has most of them; the few
// only groups use are added here so that file stays its owner's.
import { ErrorCode } from '../protocol/errors.js';

export const GroupErrorCode = {
  ...ErrorCode,
  OFFSET_METADATA_TOO_LARGE: 12,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  MEMBER_ID_REQUIRED: 79,
  FENCED_INSTANCE_ID: 82,
} as const;
