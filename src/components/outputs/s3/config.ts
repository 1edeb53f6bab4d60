// Options of the `s3` output. Credentials come from the AWS SDK's default chain (environment,
// shared profile, web identity/IRSA, ECS, instance metadata); explicit credentials are only
// references to environment variables or files, never literals in a shared config.

import { z } from 'zod';
import { duration, size } from '../../../core/units.js';

export const DEFAULT_KEY = 'shiplog/{tag}/%Y/%m/%d/%H%M%S-{uuid}.ndjson.gz';

const envRef = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional()
    .describe(`Name of the environment variable holding the ${what}.`);
const fileRef = (what: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(`File holding the ${what} (trailing newline ignored); read when the SDK signs.`);

export const options = z.object({
  bucket: z.string().min(1).describe('Bucket the objects are written to.'),
  region: z
    .string()
    .min(1)
    .optional()
    .describe('AWS region. Default: the SDK chain (AWS_REGION, profile); us-east-1 with endpoint.'),
  endpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Endpoint of an S3-compatible store (MinIO, Ceph, R2), e.g. https://minio:9000.'),
  force_path_style: z
    .boolean()
    .default(false)
    .describe(
      'Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (MinIO, Ceph).',
    ),
  checksum: z
    .enum(['when_supported', 'when_required'])
    .default('when_supported')
    .describe(
      'Request checksums (CRC32) on uploads. when_required: only where S3 demands one (older S3-compatible stores reject the trailer).',
    ),
  key: z
    .string()
    .min(1)
    .default(DEFAULT_KEY)
    .describe(
      'Object key: strftime (%Y %m %d %H %M %S %j %y %s %%) of the first record time in UTC, {tag}, {tag[N]} (Nth dot-separated part), {uuid}, {hostname}. With compression none a trailing .gz is dropped.',
    ),
  compression: z
    .enum(['gzip', 'none'])
    .default('gzip')
    .describe('gzip the object (Content-Encoding: gzip, .gz extension) or store plain NDJSON.'),
  format: z
    .enum(['ndjson'])
    .default('ndjson')
    .describe('Object format: one JSON object per line (the record fields).'),
  batch: z
    .strictObject({
      max_bytes: size(
        'Roll the object when its uncompressed NDJSON reaches this size (also capped by the output buffer).',
      ).prefault('50MiB'),
      max_wait: duration('Roll the object when its first record is this old.').prefault('5m'),
    })
    .prefault({})
    .describe('When an object is complete and uploaded.'),
  upload_concurrency: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(4)
    .describe('Parts of one multipart upload sent at once (8 MiB parts).'),
  storage_class: z
    .enum([
      'STANDARD',
      'REDUCED_REDUNDANCY',
      'STANDARD_IA',
      'ONEZONE_IA',
      'INTELLIGENT_TIERING',
      'GLACIER',
      'DEEP_ARCHIVE',
      'GLACIER_IR',
    ])
    .optional()
    .describe("Storage class of the objects. Default: the bucket's (STANDARD)."),
  server_side_encryption: z
    .enum(['AES256', 'aws:kms', 'aws:kms:dsse'])
    .optional()
    .describe("Server-side encryption. Default: the bucket's default encryption."),
  kms_key_id: z
    .string()
    .min(1)
    .optional()
    .describe('KMS key id or ARN for server_side_encryption aws:kms.'),
  acl: z
    .enum([
      'private',
      'bucket-owner-read',
      'bucket-owner-full-control',
      'authenticated-read',
      'public-read',
      'aws-exec-read',
    ])
    .optional()
    .describe('Canned ACL. Default: none sent (buckets with ACLs disabled reject one).'),
  credentials: z
    .strictObject({
      access_key_id_env: envRef('access key id'),
      access_key_id_file: fileRef('access key id'),
      secret_access_key_env: envRef('secret access key'),
      secret_access_key_file: fileRef('secret access key'),
      session_token_env: envRef('session token'),
      session_token_file: fileRef('session token'),
    })
    .optional()
    .describe(
      'Explicit credentials as env/file references. Default: the AWS default chain (env, profile, web identity, ECS, IMDSv2).',
    ),
  abort_incomplete_after: duration(
    'On start, abort multipart uploads under the key prefix started this long ago (crash leftovers); uploads of other agents writing the same prefix are younger. A prefix containing {hostname} is ours: all are aborted.',
  ).prefault('1h'),
});

export type S3Options = z.output<typeof options>;
