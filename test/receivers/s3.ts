// A real S3 protocol server for tests: s3rver 3.x (filesystem-backed, Koa) on 127.0.0.1:0 in a
// temp dir, with one bucket. s3rver does not verify SigV4 signatures and implements no
// ListMultipartUploads; with AWS SDK v3 use path style and checksums only when required.
// Adds: a request log (to see multipart calls), an outage (stop, then restart on the same port
// and directory: objects survive), and helpers to list and read objects.

import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Server } from 'node:http';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

export interface S3Object {
  key: string;
  body: Buffer;
  contentEncoding?: string;
  contentType?: string;
}

export interface S3Receiver {
  endpoint: string;
  port: number;
  bucket: string;
  dir: string;
  /** Every request seen: `METHOD /path?query`. */
  requests: string[];
  /** A client configured for this server (path style, checksums when required). */
  client: S3Client;
  keys(): Promise<string[]>;
  get(key: string): Promise<S3Object>;
  /** Stop accepting connections and drop open ones (an outage). */
  stop(): Promise<void>;
  /** Start again on the same port and directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startS3(opts: { bucket?: string; dir?: string } = {}): Promise<S3Receiver> {
  const bucket = opts.bucket ?? 'logs';
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'shiplog-s3rver-'));
  const requests: string[] = [];
  let server: S3rverInstance | undefined;
  let port = 0;

  const launch = async (): Promise<void> => {
    const s = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket }],
    });
    const addr = await s.run();
    port = addr.port;
    s.httpServer?.on('request', (req: { method?: string; url?: string }) => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    });
    server = s;
  };
  await launch();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.httpServer?.closeAllConnections();
    await s.close();
  };

  return {
    endpoint,
    port,
    bucket,
    dir,
    requests,
    client,
    async keys() {
      const out: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 100; page++) {
        const res = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? []) if (o.Key) out.push(o.Key);
        if (!res.IsTruncated) break;
        token = res.NextContinuationToken;
      }
      return out.sort();
    },
    async get(key) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await res.Body!.transformToByteArray());
      return {
        key,
        body,
        contentEncoding: res.ContentEncoding,
        contentType: res.ContentType,
      };
    },
    stop,
    async restart() {
      if (!server) await launch();
    },
    async close() {
      await stop();
      client.destroy();
    },
  };
}
