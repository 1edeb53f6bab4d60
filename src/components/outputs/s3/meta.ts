// What the registry knows of the `s3` output without loading it: type, description and options.
// The factory is in index.ts (which loads the AWS SDK only when an s3 output starts).

import { options } from './config.js';

export const meta = {
  kind: 'output' as const,
  type: 's3',
  description:
    'Archives records as gzip NDJSON objects in S3 (or MinIO, Ceph, R2), rolled by size and time; acknowledged once uploaded.',
  options,
};
