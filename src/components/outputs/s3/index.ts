// `s3`: gzip NDJSON objects in S3 or an S3-compatible store, the cold archive. See README.md.
// The AWS SDK (~25 MB of resident memory) is loaded only when an s3 output starts, so nodes
// that do not archive to S3 never pay for it.

import * as os from 'node:os';
import { defineOutput, type Output } from '../../../core/component.js';
import { ConfigError } from '../../../core/errors.js';
import { KeyTemplateError, compileKeyTemplate } from './key.js';
import { options } from './config.js';
import type { S3Output } from './output.js';

export default defineOutput({
  kind: 'output',
  type: 's3',
  description:
    'Archives records as gzip NDJSON objects in S3 (or MinIO, Ceph, R2), rolled by size and time; acknowledged once uploaded.',
  options,
  create(config, ctx): Output {
    // Validate what the schema cannot (key template, SSE options) now: `shiplog validate` must catch it.
    try {
      compileKeyTemplate(config.key, os.hostname());
    } catch (e) {
      if (e instanceof KeyTemplateError)
        throw new ConfigError([
          { code: 'SHIPLOG_CONFIG_INVALID', path: 'key', message: e.message },
        ]);
      throw e;
    }
    if (config.server_side_encryption === undefined && config.kms_key_id)
      throw new ConfigError([
        {
          code: 'SHIPLOG_CONFIG_INVALID',
          path: 'kms_key_id',
          message: 'kms_key_id needs server_side_encryption: aws:kms',
        },
      ]);
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
});
