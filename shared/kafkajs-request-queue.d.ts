// kafkajs ships no types for its internals; shared/kafka-client.ts patches this one class.
declare module 'kafkajs/src/network/requestQueue/index.js' {
  const RequestQueue: { prototype: object };
  export default RequestQueue;
}
