// `npm run ingest -- <args>` as a real child process, its JSON log lines parsed as they come.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface IngestChild {
  proc: ChildProcess;
  exit(): number | string | null;
  exited: Promise<void>;
  /** Structured log lines seen so far. */
  lines: { msg?: string; group?: string; url?: string; [k: string]: unknown }[];
  stderr(): string;
}

export function startIngestChild(args: string[], env: NodeJS.ProcessEnv): IngestChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'ingest/main.ts', ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit: number | string | null = null;
  let stderr = '';
  const lines: IngestChild['lines'] = [];
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exit = code ?? signal;
      resolve();
    }),
  );
  proc.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line));
    } catch {
      stderr += `${line}\n`;
    }
  });
  return { proc, exit: () => exit, exited, lines, stderr: () => stderr };
}
