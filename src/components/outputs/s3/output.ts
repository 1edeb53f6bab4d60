// The `s3` output: records accumulate per tag into gzip NDJSON objects that roll by size and by
// age, and each object is uploaded with lib-storage (one PUT, or multipart in 8 MiB parts). An
// object's batches are acknowledged only once S3 has the whole object, so a checkpoint never
// passes data that is not in the bucket. A failed upload is retried whole with the shared backoff
// (same key: a retry overwrites, never duplicates); after retry.max_elapsed the records are
// dead-lettered.
//
//   write(batch) ─▶ ObjectBuilder[tag] (gzip stream, batches held by reference)
//                        │ max_bytes | max_wait | buffer budget | stop()
//                        ▼
//                  finish() ─▶ withRetry(Upload) ─▶ ack every batch of the object

import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  S3Client,
  type ListMultipartUploadsCommandOutput,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { CommonOutput, Output, OutputContext } from '../../../core/component.js';
import { ConfigError } from '../../../core/errors.js';
import type { DeadLetter } from '../../../core/dead-letter.js';
import type { OutputBatch } from '../../../core/record.js';
import { RetryTimeoutError, withRetry } from '../../../core/retry.js';
import type { S3Options } from './config.js';
import { checkOptions, type KeyTemplate } from './key.js';
import { ndjson, ObjectBuilder } from './object.js';

// node:crypto through require(): an ESM import of it also loads WebCrypto (issue #22).
const { randomUUID } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;

export const PART_SIZE = 8 * 1024 * 1024;
/** Without a known budget: roll an object this big when no batch arrived for STALL_MS. */
const STALL_MIN_BYTES = 1024 * 1024;
const STALL_MS = 10_000;

type Config = S3Options & CommonOutput;

/** Test hooks: a fixed hostname / uuid source, and a client factory. */
export interface S3OutputOptions {
  hostname?: string;
  uuid?: () => string;
  /** The pipeline's byte budget of this output when known (buffer.max_bytes or memory_limit / outputs). */
  bufferLimit?: number;
}

export function buildClientConfig(config: Config): S3ClientConfig {
  const checksum = config.checksum === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const cfg: S3ClientConfig = {
    forcePathStyle: config.force_path_style,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
  };
  if (config.region) cfg.region = config.region;
  else if (config.endpoint && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION)
    cfg.region = 'us-east-1';
  if (config.endpoint) cfg.endpoint = config.endpoint;
  const c = config.credentials;
  if (c) {
    const problems: string[] = [];
    const one = (env: string | undefined, file: string | undefined, what: string): void => {
      if (env && file) problems.push(`credentials: set ${what}_env or ${what}_file, not both`);
      if (!env && !file && what !== 'session_token')
        problems.push(`credentials: ${what}_env or ${what}_file is required`);
    };
    one(c.access_key_id_env, c.access_key_id_file, 'access_key_id');
    one(c.secret_access_key_env, c.secret_access_key_file, 'secret_access_key');
    one(c.session_token_env, c.session_token_file, 'session_token');
    if (problems.length > 0)
      throw new ConfigError(
        problems.map((message) => ({
          code: 'SHIPLOG_CONFIG_INVALID',
          path: 'credentials',
          message,
        })),
      );
    cfg.credentials = explicitCredentials(c);
  }
  return cfg;
}

/** A provider that reads the referenced env vars / files each time the SDK asks (rotation-safe). */
function explicitCredentials(
  c: NonNullable<Config['credentials']>,
): () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  const read = async (env?: string, file?: string): Promise<string | undefined> => {
    if (env) {
      const v = process.env[env];
      if (!v) throw new Error(`credentials: environment variable ${env} is empty or unset`);
      return v;
    }
    if (file) return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    return undefined;
  };
  return async () => ({
    accessKeyId: (await read(c.access_key_id_env, c.access_key_id_file))!,
    secretAccessKey: (await read(c.secret_access_key_env, c.secret_access_key_file))!,
    sessionToken: await read(c.session_token_env, c.session_token_file),
  });
}

/** What the start-up cleanup needs of a client: only `send`. */
export interface SendsCommands {
  send(
    cmd: ListMultipartUploadsCommand | AbortMultipartUploadCommand,
    opts?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

/**
 * Abort multipart uploads left behind by a crash: those under `prefix` that were started before
 * `before` and, unless the prefix is ours alone, at least `minAgeMs` ago (another agent's upload
 * in progress under a shared prefix is young). Returns the number aborted.
 */
export async function abortLeftoverUploads(
  client: SendsCommands,
  o: {
    bucket: string;
    prefix: string;
    before: number;
    minAgeMs: number;
    ownPrefix: boolean;
    signal?: AbortSignal;
  },
): Promise<number> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  let aborted = 0;
  for (let page = 0; page < 50; page++) {
    const res = (await client.send(
      new ListMultipartUploadsCommand({
        Bucket: o.bucket,
        Prefix: o.prefix || undefined,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
      { abortSignal: o.signal },
    )) as ListMultipartUploadsCommandOutput;
    for (const u of res.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Key.startsWith(o.prefix)) continue;
      const started = u.Initiated ? new Date(u.Initiated).getTime() : 0;
      if (started >= o.before) continue;
      if (!o.ownPrefix && o.before - started < o.minAgeMs) continue;
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: u.Key, UploadId: u.UploadId }),
        { abortSignal: o.signal },
      );
      aborted++;
    }
    if (!res.IsTruncated) break;
    keyMarker = res.NextKeyMarker;
    uploadIdMarker = res.NextUploadIdMarker;
    if (!keyMarker && !uploadIdMarker) break;
  }
  return aborted;
}

export class S3Output implements Output {
  readonly client: S3Client;
  readonly key: KeyTemplate;
  private readonly hostname: string;
  private readonly uuid: () => string;
  private readonly groups = new Map<string, ObjectBuilder>();
  private readonly uploads = new Set<Promise<void>>();
  /** Accounted bytes of the objects still accumulating (not yet rolled). */
  private accumulating = 0;
  /** Roll when the accumulating objects hold this many accounted bytes (half the budget). */
  private readonly budgetRoll: number | undefined;
  private lastWrite = Date.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private cleanup: Promise<void> = Promise.resolve();
  private stopping = false;
  private lastError: string | undefined;
  /** Objects uploaded (for tests and logs). */
  uploaded = 0;

  constructor(
    private readonly config: Config,
    private readonly ctx: OutputContext,
    opts: S3OutputOptions = {},
  ) {
    this.hostname = opts.hostname ?? os.hostname();
    this.uuid = opts.uuid ?? randomUUID;
    this.key = checkOptions(config, this.hostname);
    this.client = new S3Client(buildClientConfig(config));
    const budget = opts.bufferLimit ?? config.buffer.max_bytes;
    // Half the budget: one object can upload while the next accumulates. If an open object could
    // fill the whole budget, the inputs would pause waiting for acks that only come when the object
    // rolls, which it would then do only at max_wait.
    this.budgetRoll = budget !== undefined ? Math.max(1, Math.floor(budget / 2)) : undefined;
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    // Fail fast on a missing region rather than retrying a misconfiguration forever.
    try {
      await this.client.config.region();
    } catch (e) {
      throw new Error(
        `s3: no region: set region, AWS_REGION or a profile region (${(e as Error).message})`,
      );
    }
    if (this.budgetRoll !== undefined && this.budgetRoll < this.config.batch.max_bytes) {
      this.ctx.log.warn('objects roll at half the output buffer, below batch.max_bytes', {
        roll_bytes: this.budgetRoll,
        batch_max_bytes: this.config.batch.max_bytes,
        hint: 'raise buffer.max_bytes (or service.memory_limit) to at least twice batch.max_bytes',
      });
    }
    this.stallTimer = setInterval(() => this.checkStall(), Math.min(STALL_MS, 5_000));
    this.stallTimer.unref();
    this.cleanup = this.abortLeftovers();
  }

  private async abortLeftovers(): Promise<void> {
    try {
      const n = await abortLeftoverUploads(this.client, {
        bucket: this.config.bucket,
        prefix: this.key.staticPrefix,
        before: this.startedAt,
        minAgeMs: this.config.abort_incomplete_after,
        ownPrefix: this.key.prefixHasHostname,
        signal: this.ctx.signal,
      });
      if (n > 0)
        this.ctx.log.info('aborted incomplete multipart uploads', {
          count: n,
          prefix: this.key.staticPrefix,
        });
    } catch (e) {
      // Not fatal: S3-compatible stores may not implement ListMultipartUploads; a bucket
      // lifecycle rule (AbortIncompleteMultipartUpload) is the backstop.
      this.ctx.log.info('could not list incomplete multipart uploads', {
        error: errorText(e),
      });
    }
  }

  write(batch: OutputBatch): void {
    const recs = batch.records;
    if (recs.length === 0) {
      batch.ack();
      return;
    }
    this.lastWrite = Date.now();
    const group = this.key.usesTag ? batch.tag : '';
    const text = ndjson(recs);
    const size = Buffer.byteLength(text);
    let g = this.groups.get(group);
    if (g && g.rawBytes + size > this.config.batch.max_bytes) {
      this.roll(g);
      g = undefined;
    }
    if (!g) {
      const fresh = new ObjectBuilder(group, batch.tag, this.config.compression);
      fresh.timer = setTimeout(() => this.roll(fresh), this.config.batch.max_wait);
      this.groups.set(group, fresh);
      g = fresh;
    }
    g.add(batch, text, size);
    this.accumulating += batch.bytes;
    if (g.rawBytes >= this.config.batch.max_bytes || this.stopping) this.roll(g);
    else if (this.budgetRoll !== undefined && this.accumulating >= this.budgetRoll) this.rollAll();
  }

  /** Objects not yet rolled, and uploads in progress. */
  get pending(): { open: number; uploading: number } {
    return { open: this.groups.size, uploading: this.uploads.size };
  }

  private checkStall(): void {
    // Unknown budget: the inputs may be paused on it. An object that stopped growing is rolled
    // rather than waiting for max_wait, once it is big enough not to make tiny objects.
    if (this.groups.size === 0 || this.uploads.size > 0) return;
    if (Date.now() - this.lastWrite < STALL_MS || this.accumulating < STALL_MIN_BYTES) return;
    this.rollAll();
  }

  private rollAll(): void {
    for (const g of [...this.groups.values()]) this.roll(g);
  }

  private roll(g: ObjectBuilder): void {
    if (this.groups.get(g.group) !== g) return;
    this.groups.delete(g.group);
    clearTimeout(g.timer);
    g.timer = undefined;
    this.accumulating -= g.accountBytes;
    const p = this.ship(g).catch((e: unknown) => {
      this.ctx.log.error('unexpected s3 upload failure; records left unacknowledged', {
        error: errorText(e),
      });
    });
    this.uploads.add(p);
    void p.finally(() => this.uploads.delete(p));
  }

  private async ship(g: ObjectBuilder): Promise<void> {
    const { ctx, config } = this;
    const body = await g.finish();
    const key = this.key.render({
      tag: g.tag,
      timeMs: g.firstTimeMs,
      uuid: this.uuid(),
      hostname: this.hostname,
    });
    await this.cleanup;
    try {
      await withRetry(() => this.uploadOnce(key, body), {
        retry: config.retry,
        signal: ctx.signal,
        onRetry: (err, attempt, delay) =>
          ctx.log.warn('s3 upload failed; retrying the object', {
            key,
            reason: err.message,
            attempt,
            delay_ms: delay,
            records: g.records,
          }),
      });
    } catch (e) {
      if (ctx.signal.aborted) {
        ctx.log.warn(
          'shutdown deadline: object not uploaded; its records are read again on restart',
          {
            key,
            records: g.records,
          },
        );
        return;
      }
      const reason = e instanceof RetryTimeoutError ? e.message : `unexpected: ${errorText(e)}`;
      const dead: DeadLetter[] = [];
      for (const b of g.batches)
        for (const record of b.records) dead.push({ record, reason, tag: b.tag });
      await ctx.deadLetter.write(dead);
      for (const b of g.batches) b.ack();
      return;
    }
    this.uploaded++;
    this.lastError = undefined;
    ctx.metrics.outputRecords.inc({ component: ctx.id, result: 'sent' }, g.records);
    ctx.log.debug('object uploaded', { key, records: g.records, bytes: body.length });
    for (const b of g.batches) b.ack();
  }

  private async uploadOnce(key: string, body: Buffer): Promise<void> {
    const { config, ctx } = this;
    const params: PutObjectCommandInput = {
      Bucket: config.bucket,
      Key: key,
      Body: body,
      ContentType: 'application/x-ndjson',
    };
    if (config.compression === 'gzip') params.ContentEncoding = 'gzip';
    if (config.storage_class) params.StorageClass = config.storage_class;
    if (config.server_side_encryption) params.ServerSideEncryption = config.server_side_encryption;
    if (config.kms_key_id) params.SSEKMSKeyId = config.kms_key_id;
    if (config.acl) params.ACL = config.acl;
    const upload = new Upload({
      client: this.client,
      params,
      partSize: PART_SIZE,
      queueSize: config.upload_concurrency,
      leavePartsOnError: false,
    });
    const onAbort = (): void => void upload.abort().catch(() => undefined);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    let status = 'ok';
    try {
      await upload.done();
    } catch (e) {
      status = errorStatus(e);
      this.lastError = errorText(e);
      throw e instanceof Error ? e : new Error(String(e));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      ctx.metrics.outputLatency.observe(
        { component: ctx.id },
        (performance.now() - started) / 1000,
      );
      ctx.metrics.outputRequests.inc({ component: ctx.id, status });
    }
  }

  /** Upload what is buffered and wait for every upload; the pipeline aborts ctx.signal at the deadline. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    this.rollAll();
    while (this.uploads.size > 0) await Promise.all([...this.uploads]);
    await this.cleanup;
  }

  health(): { ok: boolean; reason?: string } {
    return this.lastError
      ? { ok: false, reason: `last upload failed: ${this.lastError}` }
      : { ok: true };
  }
}

function errorStatus(e: unknown): string {
  const meta = (e as { $metadata?: { httpStatusCode?: number } }).$metadata;
  if (meta?.httpStatusCode) return String(meta.httpStatusCode);
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string') return code.toLowerCase();
  return 'error';
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code)
      ? `${e.name}: ${e.message} (${code})`
      : `${e.name}: ${e.message}`;
  }
  return String(e);
}
