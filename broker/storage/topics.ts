// Placeholder: replaced by the topic manager (topics, partitions, logs) in the next commit.
export interface TopicManager {
  names(): string[];
}
