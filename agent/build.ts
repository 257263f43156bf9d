// Bundles the agent into one ES module (dist/gps-agent.mjs) for the Raspberry Pi service:
//   node --import tsx agent/build.ts [OUTFILE]
// Why: run from sources through tsx, the agent costs ~25 MB more RSS (tsx's loader thread and
// the TypeScript transforms) and drains the backlog about half as fast (bench/agent.ts measures
// both). Native modules stay outside the bundle and load from node_modules next to dist/.
//
// Memory (issue #4, figures in agent/README.md):
// - Minified: V8 keeps a module's whole source text in its heap for lazy compilation, so the
//   ~1 MB readable bundle cost ~1 MB of RSS; minified it is ~0.45 MB. keepNames keeps function
//   and class names, so stack traces and error names in the journal stay readable, and the
//   linked source map (read only with node --enable-source-maps) maps them back to the sources.
// - The native modules are loaded with require(), not an ESM import: importing CommonJS from ESM
//   makes Node compile its cjs-module-lexer (WebAssembly) to find the named exports, which cost
//   ~2-3 MB RSS for the rest of the process's life.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
export const DEFAULT_BUNDLE = join(ROOT, 'dist/gps-agent.mjs');

/** Native addons (and what loads them) cannot be bundled. */
const NATIVE = ['better-sqlite3', 'serialport', '@serialport/bindings-cpp'];

/** `import X from 'better-sqlite3'` becomes require('better-sqlite3') (see the header). */
const requireNative: Plugin = {
  name: 'require-native',
  setup(b) {
    const filter = new RegExp(`^(${NATIVE.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (a) =>
      a.namespace === 'require-native'
        ? { path: a.path, external: true }
        : { path: a.path, namespace: 'require-native' },
    );
    b.onLoad({ filter: /.*/, namespace: 'require-native' }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(a.path)});`,
      loader: 'js',
    }));
  },
};

/** `entry`: another program bundled the agent's way (tests check what bundling does to it). */
export async function buildAgent(
  outfile = DEFAULT_BUNDLE,
  entry = join(ROOT, 'agent/main.ts'),
): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: NATIVE,
    plugins: [requireNative],
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    // kafkajs and pino are CommonJS and call require() for Node's own modules; so do the
    // native modules above.
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
