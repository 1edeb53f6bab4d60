// Lean dependencies (issue #22): shiplog's imports of these packages resolve to a module of
// packaging/ that loads only the part shiplog uses, in the bundle (packaging/bundle.mjs, at build
// time) and in dist (bin/shiplog.js, a module.registerHooks resolve hook, Node >= 22.15). The
// names are the only ones src/ may import from each package: the bundle's build and
// test/memory/lean.test.ts check src/ against them, and that each lean module exports them.

/** Package → its lean module (in packaging/) and the names src/ may import from it. */
export const LEAN = {
  undici: { file: 'undici-lean.mjs', names: ['Agent', 'Dispatcher', 'Pool', 'request'] },
  'prom-client': {
    file: 'prom-client-lean.mjs',
    names: ['Counter', 'Gauge', 'Histogram', 'Registry', 'collectDefaultMetrics'],
  },
};

/**
 * Modules of a package replaced where another of its modules requires them: [the parent's URL
 * suffix, the specifier, the stand-in in packaging/].
 */
export const STAND_INS = [
  ['/node_modules/undici/lib/dispatcher/client.js', './client-h2.js', 'undici-h2-lazy.cjs'],
  ['/node_modules/zod/v4/classic/external.js', '../locales/index.js', 'zod-locales-lean.mjs'],
  ['/node_modules/zod/v4/core/index.js', '../locales/index.js', 'zod-locales-lean.mjs'],
];

/** The file: URL of a package's lean module. */
export function leanUrl(pkg) {
  return new URL(LEAN[pkg].file, import.meta.url).href;
}

/**
 * Names the TypeScript sources import from a lean package that its lean module does not export
 * (`text`: one source file; type-only imports are fine). Returns `name` or `pkg: default or
 * namespace import` entries.
 */
export function leanNamesMissing(text) {
  const missing = [];
  for (const [pkg, { names }] of Object.entries(LEAN)) {
    const q = pkg.replace(/[-/]/g, '\\$&');
    for (const m of text.matchAll(
      new RegExp(`import\\s+(type\\s+)?\\{([^}]*)\\}\\s+from\\s+'${q}'`, 'g'),
    )) {
      if (m[1]) continue;
      for (const part of m[2].split(',')) {
        const name = part.trim().split(/\s+as\s+/)[0];
        if (name && !name.startsWith('type ') && !names.includes(name))
          missing.push(`${pkg}: ${name}`);
      }
    }
    if (new RegExp(`import\\s+(\\*\\s+as\\s+\\w+|\\w+)(\\s*,[^;]*)?\\s+from\\s+'${q}'`).test(text))
      missing.push(`${pkg}: default or namespace import`);
    if (new RegExp(`(import|require)\\(\\s*'${q}'\\s*\\)`).test(text))
      missing.push(`${pkg}: dynamic import or require`);
  }
  return missing;
}

/**
 * Resolve the lean packages for modules under `scope` (a directory URL: dist/): a synchronous
 * resolve hook (module.registerHooks). Returns false when this Node has no registerHooks (< 22.15):
 * then the full packages load, as before.
 */
export async function registerLeanHooks(scope) {
  const { registerHooks } = await import('node:module');
  if (typeof registerHooks !== 'function') return false;
  // SHIPLOG_DEBUG_MODULES (src/cli/run.ts): every URL resolved, for test/memory.
  const seen = process.env.SHIPLOG_DEBUG_MODULES
    ? (globalThis[Symbol.for('shiplog.resolvedModules')] = new Set())
    : undefined;
  registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL ?? '';
      const standIn = STAND_INS.find(([p, spec]) => spec === specifier && parent.endsWith(p));
      const r = standIn
        ? {
            url: new URL(standIn[2], import.meta.url).href,
            format: standIn[2].endsWith('.cjs') ? 'commonjs' : 'module',
            shortCircuit: true,
          }
        : Object.hasOwn(LEAN, specifier) && parent.startsWith(scope)
          ? { url: leanUrl(specifier), format: 'module', shortCircuit: true }
          : next(specifier, context);
      seen?.add(r.url);
      return r;
    },
  });
  return true;
}
