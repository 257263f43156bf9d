// Topics and their partition logs on disk:
//   <dataDir>/topics/<name>/topic.json   {name, id, partitions, configs}
//   <dataDir>/topics/<name>/<partition>/  segment files of that partition
// A topic is created in a temporary directory and renamed into place, and deleted by renaming
// it away before removing files, so a crash never leaves a half-created or half-deleted topic.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { BrokerConfig, TopicDefaults } from '../config.js';
import { ErrorCode } from '../protocol/errors.js';
import { GroupFlusher } from './flusher.js';
import { Journal } from './journal.js';
import { fsyncDir, JsonFile } from './json-file.js';
import { PartitionLog } from './log.js';
import { effectiveConfig, validateTopicConfigs } from './topic-config.js';

export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
export const MAX_PARTITIONS = 10_000;

export interface TopicMeta {
  name: string;
  /** 32 hex digits (Kafka topic id). */
  id: string;
  partitions: number;
  configs: Record<string, string>;
}

export class Topic {
  private effective: TopicDefaults;
  constructor(
    readonly meta: TopicMeta,
    readonly partitions: PartitionLog[],
    defaults: TopicDefaults,
  ) {
    this.effective = effectiveConfig(defaults, meta.configs);
  }
  get name(): string {
    return this.meta.name;
  }
  get id(): string {
    return this.meta.id;
  }
  get config(): TopicDefaults {
    return this.effective;
  }
}

export class TopicError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'TopicError';
  }
}

export function checkTopicName(name: string): string | null {
  if (!TOPIC_NAME.test(name) || name === '.' || name === '..') {
    return `invalid topic name '${name}': 1-249 letters, digits, '.', '_' or '-' (not '.' or '..')`;
  }
  return null;
}

export class TopicManager {
  private readonly topics = new Map<string, Topic>();
  readonly flusher: GroupFlusher;
  private readonly root: string;

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {
    this.root = join(config.dataDir, 'topics');
    this.flusher = new GroupFlusher((err) =>
      log.error({ err }, 'fsync failed: nothing more is acknowledged with acks=-1 or served until a restart'),
    );
  }

  /** Load every topic; `clean` says the previous run shut down cleanly (skip full tail checks). */
  load(clean: boolean): void {
    mkdirSync(this.root, { recursive: true });
    rmSync(join(this.config.dataDir, 'trash'), { recursive: true, force: true });
    // Before any log is opened: their tails are verified with the journal's records written back.
    this.flusher.journal = Journal.open(
      this.config.dataDir,
      this.log,
      this.config.journalCheckpointBytes,
    ).journal;
    for (const entry of readdirSync(this.root)) {
      const dir = join(this.root, entry);
      if (entry.startsWith('.')) {
        rmSync(dir, { recursive: true, force: true }); // an interrupted creation
        continue;
      }
      const meta = new JsonFile<TopicMeta>(join(dir, 'topic.json')).read();
      if (!meta) {
        this.log.warn({ dir }, 'topic directory without topic.json ignored');
        continue;
      }
      this.topics.set(meta.name, this.openTopic(meta, dir, clean));
    }
  }

  private openTopic(meta: TopicMeta, dir: string, clean: boolean): Topic {
    let topic: Topic | undefined;
    const cfg = () => topic!.config;
    const parts: PartitionLog[] = [];
    for (let p = 0; p < meta.partitions; p++) {
      parts.push(
        PartitionLog.open(
          join(dir, String(p)),
          meta.name,
          p,
          cfg,
          this.config.indexIntervalBytes,
          this.flusher,
          this.log,
          clean,
        ),
      );
    }
    topic = new Topic(meta, parts, this.config.topicDefaults);
    return topic;
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  list(): Topic[] {
    return [...this.topics.values()];
  }

  /** The topic with this id, for requests that name topics by id (Metadata v10+, DeleteTopics v6). */
  byId(id: string | null): Topic | undefined {
    return this.list().find((t) => t.id === id);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /**
   * What create() checks, without creating (CreateTopics validateOnly asks exactly this):
   * the name, that it is free, the partition count and the configs. Returns the configs as kept.
   */
  validate(
    name: string,
    partitions: number,
    configs: Record<string, string | null> = {},
  ): Record<string, string> {
    const bad = checkTopicName(name);
    if (bad) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, bad);
    if (this.topics.has(name))
      throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      throw new TopicError(
        ErrorCode.INVALID_PARTITIONS,
        `partitions must be 1..${MAX_PARTITIONS}, got ${partitions}`,
      );
    }
    try {
      return validateTopicConfigs(configs);
    } catch (e) {
      throw new TopicError(ErrorCode.INVALID_CONFIG, (e as Error).message);
    }
  }

  /** Create a topic durably. Throws TopicError with the Kafka error code on refusal. */
  create(name: string, partitions: number, configs: Record<string, string | null> = {}): Topic {
    const valid = this.validate(name, partitions, configs);
    const meta: TopicMeta = { name, id: randomUUID().replaceAll('-', ''), partitions, configs: valid };
    const tmp = join(this.root, `.creating-${meta.id}`);
    mkdirSync(tmp, { recursive: true });
    for (let p = 0; p < partitions; p++) mkdirSync(join(tmp, String(p)));
    new JsonFile<TopicMeta>(join(tmp, 'topic.json')).write(meta);
    const dir = join(this.root, name);
    renameSync(tmp, dir);
    fsyncDir(this.root);
    const topic = this.openTopic(meta, dir, true);
    this.topics.set(name, topic);
    this.log.info({ topic: name, partitions, configs: valid }, 'created topic');
    return topic;
  }

  delete(name: string): void {
    const topic = this.topics.get(name);
    if (!topic) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    // No record of this topic may outlive its directory: one of a topic created again under the
    // same name would be written into the new topic's segment at replay.
    this.flusher.journal?.checkpointSync();
    this.topics.delete(name);
    for (const p of topic.partitions) p.close();
    const trash = join(this.config.dataDir, 'trash');
    mkdirSync(trash, { recursive: true });
    const away = join(trash, `${name}-${topic.id}`);
    renameSync(join(this.root, name), away);
    fsyncDir(this.root);
    rmSync(away, { recursive: true, force: true });
    this.log.info({ topic: name }, 'deleted topic');
  }

  enforceRetention(nowMs: number): number {
    let n = 0;
    for (const t of this.topics.values()) for (const p of t.partitions) n += p.enforceRetention(nowMs);
    return n;
  }

  /** Flush, persist producer state and close every log (clean shutdown). */
  closeClean(): void {
    for (const t of this.topics.values()) for (const p of t.partitions) p.closeClean();
    this.topics.clear();
    // Every segment is synced and closed: nothing in the journal is needed any more.
    this.flusher.journal?.closeClean();
    this.flusher.journal = undefined;
  }
}
