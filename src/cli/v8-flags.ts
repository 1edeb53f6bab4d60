// V8 settings applied by the process itself (so systemd, Kubernetes, the CLI and the bundle all
// run the same), before anything compiles WebAssembly. Imported first by main.ts.
//
// --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly; V8's optimising tier
// (TurboFan) compiling llhttp's state machine took ~35 MB of memory for ~80 ms on the first
// request: the peak RSS of a whole W2 run (~150 MB; ~116 MB without it). Liftoff, the baseline
// tier, has no such peak, and shiplog parses only small responses (204s, bulk results) at a few
// hundred requests per second, where the difference in parsing speed does not show (W2 wall time
// unchanged). Set SHIPLOG_V8_DEFAULTS=0 to leave V8's defaults alone.

import v8 from 'node:v8';

if (process.env.SHIPLOG_V8_DEFAULTS !== '0') v8.setFlagsFromString('--liftoff-only');
