// V8 settings applied by the process itself (so systemd, Kubernetes, the CLI and the bundle all
// run the same), before anything compiles WebAssembly. Imported first by main.ts.
//
// --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly; V8's optimising tier
// (TurboFan) compiling llhttp's state machine took ~35 MB of memory for ~80 ms on the first
// request: the peak RSS of a whole W2 run (~150 MB; ~116 MB without it). Liftoff, the baseline
// tier, has no such peak, and shiplog parses only small responses (204s, bulk results) at a few
// hundred requests per second, where the difference in parsing speed does not show (W2 wall time
// unchanged). Set SHIPLOG_V8_DEFAULTS=0 to leave V8's defaults alone.
//
// What cannot be set from here (issue #22, docs/deployment.md "Memory"): the heap is configured
// when the isolate is created, so --max-semi-space-size has no effect once the process runs; the
// launchers set it, with glibc's malloc tunables (packaging/launch.mjs: bin/shiplog.js re-executes
// itself, the bundle's sh line execs node with them). --single-threaded-gc and --lite-mode abort
// Node 20 when set at run time. --optimize-for-size does work at run time (young generation kept
// at 1 MiB) but doubled W2's CPU per line (14.5 -> 31.7 s/M) and W5's CPU (5.8 -> 8.6 %);
// --max-lazy changed nothing.

import v8 from 'node:v8';

if (process.env.SHIPLOG_V8_DEFAULTS !== '0') v8.setFlagsFromString('--liftoff-only');
