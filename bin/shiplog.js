#!/usr/bin/env node
// The CLI from dist/ (npm's bin). First, once: re-execute node with the launch settings
// (packaging/launch.mjs: glibc malloc tunables, V8's young generation size; same pid), then
// resolve undici and prom-client to their lean modules (packaging/lean.mjs), as the bundle does.
// SHIPLOG_V8_DEFAULTS=0 skips the first.
import { relaunch } from '../packaging/launch.mjs';
import { registerLeanHooks } from '../packaging/lean.mjs';

relaunch();
await registerLeanHooks(new URL('../dist/', import.meta.url).href);
// Not awaited: an error main() rejects with stays an unhandled rejection, which the CLI logs.
import('../dist/cli/main.js').then((m) => m.main(process.argv));
