// kafkajs ships no types for its internals; shared/kafka-client.ts patches this one class.
declare module 'kafkajs/src/network/requestQueue/index.js' {
  const RequestQueue: { prototype: object };
  export default RequestQueue;
}

// Its consumer group class, whose heartbeat clock shared/kafka-client.ts moves to the monotonic one.
declare module 'kafkajs/src/consumer/consumerGroup.js' {
  const ConsumerGroup: { prototype: object };
  export default ConsumerGroup;
}
