// snappy, the native addon Loki's protobuf push needs, loaded when it is first used (a loki output
// with encoding: protobuf starting), not when shiplog starts: `shiplog --version`, `validate` and
// every config without such an output run without it (a bundle copied without node_modules). When
// it is missing, the error says what to install, or to use encoding: json.

import { createRequire } from 'node:module';

interface Snappy {
  compressSync(input: Buffer | string, opts?: { copyOutputData?: boolean }): Buffer;
  uncompressSync(input: Buffer, opts?: { asBuffer?: boolean }): Buffer | string;
}

let mod: Snappy | undefined;

/** Load the addon now (a loki output starting); throws with what is missing. */
export function loadSnappy(): Snappy {
  if (mod) return mod;
  try {
    mod = createRequire(import.meta.url)('snappy') as Snappy;
  } catch (e) {
    throw new Error(
      `loki (encoding: protobuf) needs the snappy native addon, which cannot be loaded: ${(e as Error).message.split('\n')[0]}. Install node_modules/snappy and node_modules/@napi-rs/snappy-${process.platform}-${process.arch}* next to shiplog (npm install snappy), or set encoding: json`,
      { cause: e },
    );
  }
  return mod;
}

/** Drop-in for `import snappy from 'snappy'`: the addon is loaded at the first call. */
const snappy: Snappy = {
  compressSync: (input, opts) => loadSnappy().compressSync(input, opts),
  uncompressSync: (input, opts) => loadSnappy().uncompressSync(input, opts),
};
export default snappy;
