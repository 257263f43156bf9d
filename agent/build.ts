// Bundles the agent into one ES module (dist/gps-agent.mjs) for the Raspberry Pi service:
//   node --import tsx agent/build.ts [OUTFILE]
// Why: run from sources through tsx, the agent costs ~25 MB more RSS (tsx's loader thread and
// the TypeScript transforms) and drains the backlog about half as fast (bench/agent.ts measures
// both). Native modules stay outside the bundle and load from node_modules next to dist/.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
export const DEFAULT_BUNDLE = join(ROOT, 'dist/gps-agent.mjs');

export async function buildAgent(outfile = DEFAULT_BUNDLE): Promise<string> {
  await build({
    entryPoints: [join(ROOT, 'agent/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native addons (and what loads them) cannot be bundled.
    external: ['better-sqlite3', 'serialport', '@serialport/bindings-cpp'],
    // kafkajs and pino are CommonJS and call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __agentRequire } from 'node:module'; const require = __agentRequire(import.meta.url);",
    },
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildAgent(process.argv[2]);
  process.stdout.write(`${out}\n`);
}
