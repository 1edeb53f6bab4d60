#!/usr/bin/env node
// `npm run bundle`: shiplog as ONE file, dist/shiplog.mjs, so a node needs only `node` (>= 20),
// that file, and the native addon it loads (snappy, for Loki's protobuf push).
//
// - The entry is an esbuild stdin module that calls the CLI's main(process.argv); the TypeScript
//   sources are bundled directly (esbuild resolves the NodeNext `.js` imports to `.ts`).
// - Native addons stay external: `snappy` and its per-platform `@napi-rs/snappy-*` package are
//   resolved at run time from node_modules next to the bundle (or any parent directory).
// - CommonJS dependencies inside an ESM bundle need `require`: the banner provides one.
// - The CLI reads its version from ../../package.json relative to its module; in a single
//   file that path means nothing, so the version is inlined at build time.

import { build } from 'esbuild';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'shiplog.mjs');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const natives = ['snappy', '@napi-rs/snappy-*'];

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

const started = Date.now();
const result = await build({
  stdin: {
    contents: "import { main } from './src/cli/main.js';\nawait main(process.argv);\n",
    resolveDir: root,
    sourcefile: 'shiplog-bundle-entry.ts',
    loader: 'ts',
  },
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: natives,
  plugins: [inlinePackageJson],
  banner: {
    js: [
      '#!/usr/bin/env node',
      `// shiplog ${pkg.version} — single-file bundle (npm run bundle). Needs node >= 20 and the snappy addon in node_modules.`,
      "import { createRequire as __shiplogCreateRequire } from 'node:module';",
      'const require = __shiplogCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
chmodSync(outfile, 0o755);

const inputs = Object.keys(result.metafile.inputs).length;
const size = statSync(outfile).size;
process.stdout.write(
  `${relative(root, outfile)}: ${(size / 1048576).toFixed(1)} MiB from ${inputs} modules in ${Date.now() - started} ms; ` +
    `external native addons: ${natives.join(', ')}\n`,
);
