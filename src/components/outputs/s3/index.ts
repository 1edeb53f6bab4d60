// `s3`: gzip NDJSON objects in S3 or an S3-compatible store, the cold archive. See README.md.

import { defineOutput, type Output } from '../../../core/component.js';
import { options } from './config.js';
import { S3Output } from './output.js';

export default defineOutput({
  kind: 'output',
  type: 's3',
  description:
    'Archives records as gzip NDJSON objects in S3 (or MinIO, Ceph, R2), rolled by size and time; acknowledged once uploaded.',
  options,
  create(config, ctx): Output {
    // The pipeline may tell an output its byte budget; without it only buffer.max_bytes is known.
    const bufferLimit = (ctx as { bufferLimit?: number }).bufferLimit;
    return new S3Output(config, ctx, { bufferLimit });
  },
});
