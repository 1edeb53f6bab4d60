// `shiplog validate --healthcheck` for an `s3` output: `HeadBucket` on a client of its own, built
// from the output's config as the output builds its own (region, endpoint, credentials).

import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { networkReason } from '../_shared/healthcheck.js';
import { buildClientConfig } from './output.js';

type S3OutputConfig = Parameters<typeof buildClientConfig>[0];

/** Resolves with what was checked; throws with what to fix. */
export async function healthcheck(config: S3OutputConfig): Promise<string> {
  const cfg = buildClientConfig(config);
  // One attempt with a short timeout: a check should answer in seconds, not retry for minutes.
  const client = new S3Client({
    ...cfg,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
  });
  const where = `bucket ${config.bucket}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
  try {
    await client.config.region().catch((e: Error) => {
      throw new Error(`no region: set region, AWS_REGION or a profile region (${e.message})`);
    });
    await client.send(new HeadBucketCommand({ Bucket: config.bucket }), {
      abortSignal: AbortSignal.timeout(15_000),
    });
    return `HeadBucket ${where}: ok`;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number }; name: string };
    const status = err.$metadata?.httpStatusCode;
    if (status === 404 || err.name === 'NotFound' || err.name === 'NoSuchBucket')
      throw new Error(`HeadBucket ${where}: the bucket does not exist (404)`);
    if (status === 403)
      throw new Error(
        `HeadBucket ${where}: access denied (403): check credentials and the bucket policy (s3:ListBucket)`,
      );
    if (status === 301)
      throw new Error(`HeadBucket ${where}: the bucket is in another region (301): set region`);
    if (status) throw new Error(`HeadBucket ${where}: answered ${status} (${err.name})`);
    if (err.message.startsWith('no region')) throw err;
    throw new Error(`HeadBucket ${where}: ${networkReason(e)}`);
  } finally {
    client.destroy();
  }
}
