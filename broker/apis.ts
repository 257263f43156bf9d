// The list of Kafka APIs this broker serves. ApiVersions advertises exactly this list.
//
// To add an API:
//   1. Write broker/protocol/<apiName>/index.ts exporting an ApiHandler (see server/api.ts):
//      apiKey, name, minVersion..maxVersion you decode/encode, flexibleFrom if you support
//      flexible versions, and handle(ctx, reader, version) returning the response *body*
//      (the connection writes the response header). Throw ProtocolError on malformed input.
//      Small per-version encoders/decoders, like kafkajs's src/protocol/requests/<api>/v<N>.
//   2. Add it below, one line. A handler that needs shared state (e.g. the group coordinator)
//      is created here from the broker context; use broker.onStop() to stop its timers and
//      broker.stateDir('<component>') for its durable files (see storage/json-file.ts).

import { createGroupApis } from './groups/apis.js';
import { apiVersions } from './protocol/apiVersions/index.js';
import { createTopics } from './protocol/createTopics/index.js';
import { deleteTopics } from './protocol/deleteTopics/index.js';
import { describeConfigs } from './protocol/describeConfigs/index.js';
import { fetch } from './protocol/fetch/index.js';
import { createInitProducerId } from './protocol/initProducerId/index.js';
import { listOffsets } from './protocol/listOffsets/index.js';
import { metadata } from './protocol/metadata/index.js';
import { produce } from './protocol/produce/index.js';
import { saslAuthenticate } from './protocol/saslAuthenticate/index.js';
import { saslHandshake } from './protocol/saslHandshake/index.js';
import type { ApiHandler } from './server/api.js';
import type { BrokerContext } from './server/context.js';

export function createApiHandlers(broker: BrokerContext): ApiHandler[] {
  return [
    apiVersions,
    metadata,
    produce,
    fetch,
    listOffsets,
    createTopics,
    deleteTopics,
    describeConfigs,
    createInitProducerId(broker),
    // Always registered, as in Kafka: without SASL on the listener they answer ILLEGAL_SASL_STATE,
    // so a client configured for SASL gets a clear error instead of an unknown API.
    saslHandshake,
    saslAuthenticate,
    // Group coordinator APIs (broker-groups): FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
    // LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups.
    ...createGroupApis(broker),
  ];
}
