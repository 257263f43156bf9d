// Why a SQLite file could not be opened, in words. SQLite's own messages do not say which part is
// wrong ("unable to open database file" for a directory, for a parent that is a file, for a
// missing directory alike); the agent's outbox and the ingest's database both say it this way.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** `e`: what better-sqlite3 threw for `path`. Its message when the path itself looks right. */
export function whySqliteNotOpened(path: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const file = statOrNull(path);
  if (file?.isDirectory()) return 'it is a directory';
  if (!file) {
    const dir = dirname(path);
    const parent = statOrNull(dir);
    if (!parent) return `the directory ${dir} does not exist`;
    if (!parent.isDirectory()) return `${dir} is not a directory`;
    return `cannot create it in ${dir} (${message})`;
  }
  return message;
}
