// Stands in for zod's locales/index.js where zod's own index modules import it (the resolve hooks
// of packaging/lean.mjs and packaging/bundle.mjs): it loads all ~50 locales, and shiplog writes
// its messages in English (zod's default, `en`, which zod's index imports by itself; issue #22).
export { default as en } from 'zod/v4/locales/en.js';
