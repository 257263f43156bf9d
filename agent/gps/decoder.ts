// NMEA sentences -> epoch results (fix / no fix), counting what it could not use.
// This is the "EpochAssembler transform" the agent pipeline plugs in after a Source:
// decodeSentence for each line, EpochAssembler to group them, counters and a rate-limited
// log for sentences that are skipped. A bad sentence only loses itself: the rest of its
// epoch still makes the fix.
import type { Logger } from '../../shared/log.js';
import { EpochAssembler, type EpochAssemblerOptions, type EpochResult } from './epoch.js';
import { RateLimitedWarn } from './rate-limit.js';
import { decodeSentence } from './sentence.js';

export interface DecodeCounters {
  /** Sentences handed in. */
  sentences: number;
  /** Sentences nmea-simple or our field checks rejected (truncated, bad time...). */
  parseErrors: number;
  /** Valid sentences of types we do not use (GSV, TXT, proprietary...). */
  ignored: number;
  /** Epochs closed, with and without a fix. */
  epochs: number;
  fixes: number;
  noFixes: number;
}

export interface PositionDecoderOptions extends EpochAssemblerOptions {
  /** Where skipped sentences are reported, at most once per `warnEveryMs` per kind. */
  log?: Logger;
  warnEveryMs?: number;
}

export class PositionDecoder {
  readonly counters: DecodeCounters = {
    sentences: 0,
    parseErrors: 0,
    ignored: 0,
    epochs: 0,
    fixes: 0,
    noFixes: 0,
  };
  private readonly assembler: EpochAssembler;
  private readonly warn: RateLimitedWarn | undefined;

  constructor(opts: PositionDecoderOptions = {}) {
    this.assembler = new EpochAssembler(opts);
    this.warn = opts.log ? new RateLimitedWarn(opts.log, opts.warnEveryMs ?? 60_000) : undefined;
  }

  /** One sentence (checksum already checked by the line filter); returns the epoch it closed. */
  push(sentence: string): EpochResult | undefined {
    this.counters.sentences++;
    const r = decodeSentence(sentence);
    if (r.kind === 'error') {
      this.counters.parseErrors++;
      this.warn?.warn('parse error', `skipped NMEA sentence: ${r.reason}`, { sentence });
      return undefined;
    }
    if (r.kind === 'ignored') {
      this.counters.ignored++;
      if (r.tod === undefined) return undefined;
      return this.count(this.assembler.push({ type: r.type, talker: '', tod: r.tod }));
    }
    return this.count(this.assembler.push(r.facts));
  }

  /** Closes the open epoch: at end of input, or when the receiver has gone quiet. */
  flush(): EpochResult | undefined {
    return this.count(this.assembler.flush());
  }

  get hasOpenEpoch(): boolean {
    return this.assembler.hasOpenEpoch;
  }

  private count(r: EpochResult | undefined): EpochResult | undefined {
    if (r) {
      this.counters.epochs++;
      if (r.kind === 'fix') this.counters.fixes++;
      else this.counters.noFixes++;
    }
    return r;
  }
}
