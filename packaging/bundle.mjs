#!/usr/bin/env node
// `npm run bundle`: shiplog as ONE file, dist/shiplog.mjs, so a node needs only `node` (>= 20),
// that file, and the native addon it loads (snappy, for Loki's protobuf push).
//
// - The entry is an esbuild stdin module that calls the CLI's main(process.argv); the TypeScript
//   sources are bundled directly (esbuild resolves the NodeNext `.js` imports to `.ts`).
// - Native addons stay external: `snappy` and its per-platform `@napi-rs/snappy-*` package are
//   resolved at run time from node_modules next to the bundle (or any parent directory), by
//   src/components/outputs/loki/snappy.ts when a loki output with encoding: protobuf starts; a
//   config without one never loads it, and `--version` runs from the bare file.
// - CommonJS dependencies inside an ESM bundle need `require`: the banner provides one.
// - Resident memory (issue #22, docs/deployment.md "Memory"): V8 keeps the whole source of the
//   bundle in memory, two bytes a character as soon as one character is not ASCII. So the output
//   is whitespace- and syntax-minified (comments gone; identifiers kept, for stack traces) and
//   must be pure ASCII (checked below). undici and prom-client resolve to packaging/lean.mjs modules (Pool,
//   Agent, request: undici without fetch/WebSocket/caches). Components shiplog loads lazily
//   (src/core/registry.ts) stay lazy: esbuild evaluates a dynamically imported module only when
//   the import runs.
// - The CLI reads its version from ../../package.json relative to its module; in a single
//   file that path means nothing, so the version is inlined at build time.

import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shLauncher } from './launch.mjs';
import { LEAN, leanNamesMissing, STAND_INS } from './lean.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'shiplog.mjs');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const natives = ['snappy', '@napi-rs/snappy-*'];
const BUILTIN = new RegExp(
  `^(node:)?(${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`,
);
const PKG_READ =
  /readFileSync\(\s*new URL\(\s*['"]\.\.\/\.\.\/package\.json['"]\s*,\s*import\.meta\.url\s*\)\s*,\s*['"]utf-?8['"]\s*\)/g;

/** Inline package.json where the CLI reads it relative to its own module. */
const inlinePackageJson = {
  name: 'inline-package-json',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]cli[\\/][^\\/]+\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const contents = source.replace(
        PKG_READ,
        JSON.stringify(JSON.stringify({ name: pkg.name, version: pkg.version })),
      );
      if (/package\.json['"]\s*,\s*import\.meta\.url/.test(contents)) {
        return {
          errors: [
            {
              text: `${relative(root, args.path)} reads package.json in a way packaging/bundle.mjs does not inline; update PKG_READ`,
            },
          ],
        };
      }
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * Lean dependencies: shiplog's `undici` and `prom-client` imports get their packaging/lean.mjs
 * module; `snappy` becomes a
 * CommonJS module that require()s the external addon when it is first evaluated (an ESM import
 * of an external package would be hoisted to the top of the bundle and load it at start).
 */
const leanDependencies = {
  name: 'lean-dependencies',
  setup(b) {
    const src = join(root, 'src');
    b.onResolve({ filter: /^(undici|prom-client)$/ }, (args) =>
      args.importer.startsWith(src)
        ? { path: join(root, 'packaging', LEAN[args.path].file) }
        : undefined,
    );
    for (const [parent, spec, file] of STAND_INS)
      b.onResolve(
        { filter: new RegExp(`^${spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) },
        (args) =>
          args.importer.replaceAll('\\', '/').endsWith(parent)
            ? { path: join(root, 'packaging', file) }
            : undefined,
      );
    b.onResolve({ filter: /^snappy$/ }, (args) =>
      args.namespace === 'lazy-require'
        ? { path: 'snappy', external: true }
        : { path: 'snappy', namespace: 'lazy-require' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});\n`,
      loader: 'js',
    }));
    // Node's builtins through require(), not ESM imports: an ESM import of a builtin builds its
    // namespace by reading every export, lazy getters included, and on Node 22/24 `node:http`'s
    // WebSocket/CloseEvent/MessageEvent getters load Node's own copy of undici (~12-15 MB
    // resident); `node:crypto` loads WebCrypto the same way.
    b.onResolve({ filter: BUILTIN }, (args) =>
      args.kind === 'import-statement' && args.namespace === 'file'
        ? {
            path: args.path.startsWith('node:') ? args.path : `node:${args.path}`,
            namespace: 'lazy-require',
          }
        : undefined,
    );
  },
};

/** Names shiplog's sources import from a lean package that its lean module does not export. */
function leanMissing(dir = join(root, 'src')) {
  const missing = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) missing.push(...leanMissing(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      for (const m of leanNamesMissing(readFileSync(p, 'utf8')))
        missing.push(`${relative(root, p)}: ${m}`);
  }
  return missing;
}

const missing = leanMissing();
if (missing.length) {
  process.stderr.write(
    `packaging/lean.mjs: src/ imports what a lean module does not export (add it there and to LEAN):\n  ${missing.join('\n  ')}\n`,
  );
  process.exit(1);
}

const started = Date.now();
const result = await build({
  stdin: {
    contents: [
      "import { main } from './src/cli/main.js';",
      // No check of the snappy addon here: a loki output loads it when it starts and says what is
      // missing (src/components/outputs/loki/snappy.ts); --version, validate and other outputs run
      // without it.
      'await main(process.argv);',
      '',
    ].join('\n'),
    resolveDir: root,
    sourcefile: 'shiplog-bundle-entry.ts',
    loader: 'ts',
  },
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  external: natives.filter((n) => n !== 'snappy'),
  plugins: [inlinePackageJson, leanDependencies],
  minifyWhitespace: true,
  minifySyntax: true,
  banner: {
    js: [
      // Run as a program (/usr/bin/shiplog, the image's entrypoint), the first two lines are sh:
      // node is started with what the launcher must set from outside the process (packaging/launch.mjs).
      // `node shiplog.mjs` skips them (a hashbang, then a string and a comment).
      '#!/bin/sh',
      `':' //; ${shLauncher()}`,
      `// shiplog ${pkg.version}, single-file bundle (npm run bundle). Needs node >= 22 and the snappy addon in node_modules.`,
      '// Started as a program, it runs node with glibc malloc returning freed memory at once, over 2',
      '// arenas (GLIBC_TUNABLES, kept if already set) and a young generation of at most 2 x 4 MiB',
      '// (--max-semi-space-size, unless NODE_OPTIONS sets it; packaging/launch.mjs, docs/deployment.md);',
      '// SHIPLOG_V8_DEFAULTS=0 starts plain node.',
      "import { createRequire as __shiplogCreateRequire } from 'node:module';",
      'const require = __shiplogCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
// One character outside ASCII and V8 holds the whole source as UTF-16: twice the memory. Code is
// escaped by esbuild (charset ascii); what remains is in comments: the banner (ASCII) and the
// licences esbuild collects at the end, where those characters become \u{...}.
const LEGAL = '/*! Bundled license information:';
const out = readFileSync(outfile, 'utf8');
const legalAt = out.lastIndexOf(LEGAL);
const code = legalAt >= 0 ? out.slice(0, legalAt) : out;
const legal = legalAt >= 0 ? out.slice(legalAt) : '';
const bad = code.search(/[^\x00-\x7f]/);
if (bad >= 0) {
  process.stderr.write(
    `${relative(root, outfile)}: not ASCII at ${bad} (${JSON.stringify(code.slice(Math.max(0, bad - 40), bad + 10))}); V8 would keep the source as UTF-16\n`,
  );
  process.exit(1);
}
const escaped = [
  code,
  legal.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`),
];
writeFileSync(outfile, escaped.join(''));
chmodSync(outfile, 0o755);

const inputs = Object.keys(result.metafile.inputs).length;
const size = statSync(outfile).size;
process.stdout.write(
  `${relative(root, outfile)}: ${(size / 1048576).toFixed(1)} MiB from ${inputs} modules in ${Date.now() - started} ms; ` +
    `external native addons: ${natives.join(', ')}\n`,
);
