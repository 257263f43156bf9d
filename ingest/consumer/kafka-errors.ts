// Which Kafka client errors are worth another try. The group supervisor (supervisor.ts) retries
// anything that can heal by itself (a broker away, a coordinator moving, a rebalance) and gives
// up at once only on errors that only an operator can fix (a setting the broker refuses, missing
// rights, wrong credentials), so the process exits and says why instead of retrying forever.

/** Root causes that no retry can fix: a setting or a permission is wrong. */
const CONFIG_ERROR_TYPES = new Set([
  'INVALID_SESSION_TIMEOUT',
  'INVALID_GROUP_ID',
  'INCONSISTENT_GROUP_PROTOCOL',
  'GROUP_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_VERSION',
  'INVALID_REPLICATION_FACTOR',
]);

const CONFIG_ERROR_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSInvalidSessionTimeout']);

type Chained = Error & { cause?: unknown; type?: string; retriable?: boolean };

/** The error and its causes, outermost first (kafkajs wraps retries: NumberOfRetriesExceeded -> cause). */
export function causeChain(e: unknown): Chained[] {
  const chain: Chained[] = [];
  let cur: unknown = e;
  while (cur instanceof Error && chain.length < 10 && !chain.includes(cur)) {
    chain.push(cur as Chained);
    cur = (cur as Chained).cause;
  }
  return chain;
}

/** An error only an operator can fix: exit and say so rather than retry. */
export function isConfigError(e: unknown): boolean {
  return causeChain(e).some(
    (c) => (c.type !== undefined && CONFIG_ERROR_TYPES.has(c.type)) || CONFIG_ERROR_NAMES.has(c.name),
  );
}

/**
 * The broker was not reachable or went away (connection refused/reset/closed, timeouts, no broker
 * in the metadata): heals when the broker is back, however long that takes, so it never counts
 * towards giving up.
 */
export function isConnectionError(e: unknown): boolean {
  return causeChain(e).some(
    (c) =>
      /Connection|NoBrokerAvailable|BrokerNotFound|RequestTimeout|GroupCoordinatorNotFound/.test(c.name) ||
      /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Closed connection|socket hang up/i.test(c.message),
  );
}

/** One line for logs and /healthz: the outermost message, plus the root cause when it differs. */
export function describeError(e: unknown): string {
  const chain = causeChain(e);
  if (chain.length === 0) return String(e);
  const first = chain[0]!;
  const root = chain[chain.length - 1]!;
  return root === first || first.message.includes(root.message)
    ? `${first.name}: ${first.message}`
    : `${first.name}: ${first.message} (cause: ${root.name}: ${root.message})`;
}
