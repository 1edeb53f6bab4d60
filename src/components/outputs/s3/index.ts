// `s3`: gzip NDJSON objects in S3 or an S3-compatible store, the cold archive. See README.md.
// The AWS SDK (~25 MB of resident memory) is loaded only when an s3 output starts, so nodes
// that do not archive to S3 never pay for it.

import * as os from 'node:os';
import { defineOutput, type Output } from '../../../core/component.js';
import { checkOptions } from './key.js';
import { meta } from './meta.js';
import type { S3Output } from './output.js';

export default defineOutput({
  ...meta,
  create(config, ctx): Output {
    // What the schema cannot check, now: `shiplog validate` must catch it.
    checkOptions(config, os.hostname());
    let impl: S3Output | undefined;
    return {
      async start() {
        const { S3Output } = await import('./output.js');
        impl ??= new S3Output(config, ctx, { bufferLimit: ctx.bufferLimit });
        await impl.start();
      },
      // The pipeline starts outputs before any input, so write() always finds impl.
      write(batch) {
        impl!.write(batch);
      },
      async stop() {
        await impl?.stop();
      },
      health() {
        return impl?.health?.() ?? { ok: true };
      },
    };
  },
  async healthcheck(config) {
    return (await import('./healthcheck.js')).healthcheck(config);
  },
});
