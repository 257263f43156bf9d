// Writes back every dirty page before a timed run. A run that follows a batched one otherwise
// pays for its predecessor: the kernel writes the ~100 MB that run left in the page cache while
// this one fsyncs, and one INSERT per fix measured 3.0-3.1k fixes/s right after a batched run
// against 4.1-5.6k after a `sync` (2026-12-07), which flattered the batched side's ratio.
import { execFileSync } from 'node:child_process';

export function settleDisk(): void {
  execFileSync('sync');
}
