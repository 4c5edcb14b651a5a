/**
 * Where the parquet destination keeps its staging and its tables: a local directory, or a prefix of an S3 bucket
 * (any S3-compatible object storage). Keys are relative to the root (`users/part-….parquet`); what publishing needs
 * atomic is the manifest alone, a single object or file replaced in one step.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { importOptional } from '../engine/optional-package.ts';
import type { WriteBatch, WriteResult } from './destination.ts';
import { pageFileName, StagedPageFiles, writeFileAtomic } from './page-files.ts';

/** The `s3` block of the parquet and file destinations: where the bucket is and how to sign in. */
export const S3SettingsConfig = z
  .strictObject({
    endpoint: z.string().url().optional().describe('An S3-compatible endpoint (MinIO, SeaweedFS, R2, GCS interop): http://127.0.0.1:8333'),
    region: z.string().min(1).default('us-east-1'),
    force_path_style: z.boolean().optional().describe('Path-style URLs (bucket in the path): default true with an endpoint'),
    access_key_id: z.string().min(1).optional().describe("A secret reference (BIZON_ENV_S3_KEY_ID); without keys, the AWS SDK's own chain (env, profile, instance role)"),
    secret_access_key: z.string().min(1).optional().describe('A secret reference (BIZON_ENV_S3_SECRET)'),
    session_token: z.string().min(1).optional(),
  })
  .optional()
  .describe('With an s3:// path: the endpoint and credentials');
export type S3Settings = NonNullable<z.infer<typeof S3SettingsConfig>>;

/** `s3://bucket/prefix` as a bucket and a key prefix (ending in / unless empty); undefined for a local path. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!s3) return undefined;
  return { bucket: s3[1]!, prefix: s3[2] === '' || s3[2]!.endsWith('/') ? s3[2]! : `${s3[2]}/` };
}

/** How a store names its destination in messages, and the config key of its path. */
export interface StoreOwner {
  label: string;
  pathKey: string;
}
const PARQUET: StoreOwner = { label: 'Parquet destination', pathKey: 'destination.config.path' };

export interface LakeStore {
  /** The root, as messages name it (`/data/lake`, `s3://bucket/prefix at http://…`). */
  readonly where: string;
  check(): Promise<void>;
  stagePage(batch: Pick<WriteBatch, 'syncRunId' | 'slice' | 'iteration'>, lines: ReadonlyMap<string, Iterable<string>>): Promise<WriteResult>;
  stagedDestinationIds(syncRunId: string): Promise<string[]>;
  /** The run's staged pages of one destination id as local files (downloaded into `workDir` when remote), in page order. */
  localPages(syncRunId: string, destinationId: string, workDir: string): Promise<string[]>;
  /** A local directory to write a run's part files into before they are published (empty). */
  workDir(runTag: string, destinationId: string): Promise<string>;
  removeStaging(syncRunId: string, runTag: string): Promise<void>;
  readText(key: string): Promise<string | undefined>;
  /** Replaces a key's content in one step: readers see the old text or the new. */
  writeText(key: string, text: string): Promise<void>;
  /** Moves (or uploads) a local file to `key`. */
  publishFile(localFile: string, key: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** The staged runs (their sync run ids), for housekeeping. */
  stagedRuns(): Promise<string[]>;
}

/** A local directory. */
export class LocalLakeStore implements LakeStore {
  readonly where: string;
  private readonly staging: StagedPageFiles;

  constructor(private readonly root: string) {
    this.where = root;
    this.staging = new StagedPageFiles(path.join(root, '_bizon_staging', 'pages'));
  }

  async check(): Promise<void> {
    if (/[*?[\]{}]/.test(this.root)) throw new NonRetryableError(`Parquet destination cannot write under ${this.root}: DuckDB reads * ? [ ] { } in a path as a pattern. Choose a path without them`);
    try {
      await mkdir(this.root, { recursive: true });
    } catch (error) {
      throw new NonRetryableError(`Parquet destination cannot create ${this.root}: ${(error as Error).message}`);
    }
  }

  stagePage(batch: Pick<WriteBatch, 'syncRunId' | 'slice' | 'iteration'>, lines: ReadonlyMap<string, Iterable<string>>): Promise<WriteResult> {
    return this.staging.writePage(batch, lines);
  }

  stagedDestinationIds(syncRunId: string): Promise<string[]> {
    return this.staging.destinationIds(syncRunId);
  }

  localPages(syncRunId: string, destinationId: string): Promise<string[]> {
    return this.staging.pageFiles(syncRunId, destinationId);
  }

  async workDir(runTag: string, destinationId: string): Promise<string> {
    const dir = path.join(this.root, '_bizon_staging', 'parts', runTag, destinationId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async removeStaging(syncRunId: string, runTag: string): Promise<void> {
    await this.staging.removeRun(syncRunId);
    await rm(path.join(this.root, '_bizon_staging', 'parts', runTag), { recursive: true, force: true });
    await this.staging.removeRootIfEmpty();
    // Emptied folders go, so the directory holds only the tables.
    for (const name of ['parts', 'published', '']) await rmdir(path.join(this.root, '_bizon_staging', name)).catch(() => undefined);
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(path.join(this.root, key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new NonRetryableError(`Parquet destination cannot read ${path.join(this.root, key)}: ${(error as Error).message}`);
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    await mkdir(path.dirname(path.join(this.root, key)), { recursive: true });
    await writeFileAtomic(path.join(this.root, key), text);
  }

  async publishFile(localFile: string, key: string): Promise<void> {
    await mkdir(path.dirname(path.join(this.root, key)), { recursive: true });
    await rename(localFile, path.join(this.root, key));
  }

  async delete(key: string): Promise<void> {
    await rm(path.join(this.root, key), { force: true });
  }

  async stagedRuns(): Promise<string[]> {
    return (await this.staging.runDirs()).map((dir) => decodeURIComponent(path.basename(dir)));
  }
}

/** A prefix of an S3 bucket. Staged pages are objects too, so any worker of a fleet can publish a run. */
export class S3LakeStore implements LakeStore {
  readonly where: string;
  private client: Promise<S3Client> | undefined;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly settings: S3Settings,
    private readonly owner: StoreOwner = PARQUET,
  ) {
    this.where = `s3://${bucket}/${prefix}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
  }

  /** The client, made on first use from the package the user installed (it is an optional dependency). */
  private s3(): Promise<S3Client> {
    this.client ??= importOptional<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3', `The ${this.owner.label.replace(/ destination$/, '').toLowerCase()} destination, writing to S3,`, ['@aws-sdk/lib-storage']).then(
      ({ S3Client }) => {
        const { endpoint, region, access_key_id: accessKeyId, secret_access_key: secretAccessKey, session_token: sessionToken } = this.settings;
        return new S3Client({
          region,
          ...(endpoint ? { endpoint } : {}),
          forcePathStyle: this.settings.force_path_style ?? endpoint !== undefined,
          ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
        });
      },
    );
    return this.client;
  }

  private key(key: string): string {
    return `${this.prefix}${key}`;
  }

  /** An S3 error as the user needs it: a missing bucket or refused credentials fail at once, naming both. */
  private failure(doing: string, error: unknown): Error {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (error as Error).name;
    const where = `bucket '${this.bucket}'${this.settings.endpoint ? ` at ${this.settings.endpoint}` : ''}`;
    if (status === 404 || name === 'NoSuchBucket' || name === 'NotFound') return new NonRetryableError(`${this.owner.label} could not ${doing}: ${where} does not exist. Create it, or fix ${this.owner.pathKey}`);
    if (status === 403 || status === 401 || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AccessDenied') {
      return new NonRetryableError(`${this.owner.label} could not ${doing}: ${where} refused the credentials (HTTP ${status ?? '?'} ${name}). Check destination.config.s3.access_key_id and secret_access_key (or the AWS credentials the worker has)`);
    }
    return new DestinationWriteError(`${this.owner.label} could not ${doing} in ${where}: ${(error as Error).message}`, { cause: error });
  }

  private async send<T>(doing: string, command: (client: S3Client, sdk: typeof import('@aws-sdk/client-s3')) => Promise<T>): Promise<T> {
    const client = await this.s3();
    const sdk = await import('@aws-sdk/client-s3');
    try {
      return await command(client, sdk);
    } catch (error) {
      throw this.failure(doing, error);
    }
  }

  async check(): Promise<void> {
    await this.send('reach the bucket', (client, sdk) => client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket })));
  }

  private stagingPrefix(syncRunId: string): string {
    return this.key(`_bizon_staging/pages/${encodeURIComponent(syncRunId)}/`);
  }

  async stagePage(batch: Pick<WriteBatch, 'syncRunId' | 'slice' | 'iteration'>, lines: ReadonlyMap<string, Iterable<string>>): Promise<WriteResult> {
    let bytes = 0;
    for (const [destinationId, text] of lines) {
      const body = [...text].join('');
      bytes += Buffer.byteLength(body);
      await this.send('stage a page', (client, sdk) =>
        client.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key: `${this.stagingPrefix(batch.syncRunId)}${encodeURIComponent(destinationId)}/${pageFileName(batch)}`, Body: body })),
      );
    }
    return { bytes };
  }

  private async list(prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }> {
    const keys: string[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('list objects', (client, sdk) =>
        client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(token ? { ContinuationToken: token } : {}) })),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      prefixes.push(...(page.CommonPrefixes ?? []).map((common) => common.Prefix!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { keys, prefixes };
  }

  async stagedDestinationIds(syncRunId: string): Promise<string[]> {
    const prefix = this.stagingPrefix(syncRunId);
    return (await this.list(prefix, '/')).prefixes.map((common) => decodeURIComponent(common.slice(prefix.length, -1)));
  }

  async localPages(syncRunId: string, destinationId: string, workDir: string): Promise<string[]> {
    const dir = await mkdtemp(path.join(workDir, 'pages-'));
    const keys = (await this.list(`${this.stagingPrefix(syncRunId)}${encodeURIComponent(destinationId)}/`)).keys.sort();
    const files: string[] = [];
    for (const key of keys) {
      const file = path.join(dir, path.basename(key));
      const body = await this.send('read a staged page', async (client, sdk) => (await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body!.transformToByteArray());
      await writeFile(file, body);
      files.push(file);
    }
    return files;
  }

  async workDir(runTag: string, destinationId: string): Promise<string> {
    return mkdtemp(path.join(tmpdir(), `bizon-parquet-${runTag}-${destinationId.slice(0, 40)}-`));
  }

  async removeStaging(syncRunId: string): Promise<void> {
    const { keys } = await this.list(this.stagingPrefix(syncRunId));
    for (let start = 0; start < keys.length; start += 1000) {
      const chunk = keys.slice(start, start + 1000);
      await this.send('remove staged pages', (client, sdk) => client.send(new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })) } })));
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      const client = await this.s3();
      const sdk = await import('@aws-sdk/client-s3');
      return await (await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }))).Body!.transformToString();
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error instanceof NonRetryableError ? error : this.failure(`read ${key}`, error);
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    await this.send(`write ${key}`, (client, sdk) => client.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: text, ContentType: 'application/json' })));
  }

  async publishFile(localFile: string, key: string): Promise<void> {
    const client = await this.s3();
    // Multipart for large files, one PUT for small ones (lib-storage decides).
    const { Upload } = await importOptional<typeof import('@aws-sdk/lib-storage')>('@aws-sdk/lib-storage', `The ${this.owner.label.replace(/ destination$/, '').toLowerCase()} destination, writing to S3,`, ['@aws-sdk/client-s3']);
    try {
      await new Upload({ client, params: { Bucket: this.bucket, Key: this.key(key), Body: createReadStream(localFile) }, partSize: 8 * 1024 * 1024, queueSize: 2 }).done();
    } catch (error) {
      throw this.failure(`upload ${key}`, error);
    }
    await rm(localFile, { force: true });
  }

  /** The ETag of an object, undefined when there is none: it changes whenever the object is written again. */
  async etag(key: string): Promise<string | undefined> {
    const client = await this.s3();
    const sdk = await import('@aws-sdk/client-s3');
    try {
      return (await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }))).ETag ?? '';
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // A missing key answers 404 like a missing bucket: the bucket was checked before the sync started.
      if (status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return undefined;
      throw this.failure(`read ${key}`, error);
    }
  }

  /** Streams an object into `sink` (left open); false when there is no such object. */
  async download(key: string, sink: NodeJS.WritableStream): Promise<boolean> {
    const client = await this.s3();
    const sdk = await import('@aws-sdk/client-s3');
    let body: NodeJS.ReadableStream;
    try {
      body = (await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }))).Body as NodeJS.ReadableStream;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return false;
      throw this.failure(`read ${key}`, error);
    }
    await pipeline(body, sink, { end: false });
    return true;
  }

  /** Removes every object under a key prefix. */
  async deleteUnder(keyPrefix: string): Promise<void> {
    const { keys } = await this.list(this.key(keyPrefix));
    for (let start = 0; start < keys.length; start += 1000) {
      const chunk = keys.slice(start, start + 1000);
      await this.send('remove staged objects', (client, sdk) => client.send(new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })) } })));
    }
  }

  async delete(key: string): Promise<void> {
    await this.send(`delete ${key}`, (client, sdk) => client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) })));
  }

  async stagedRuns(): Promise<string[]> {
    const prefix = this.key('_bizon_staging/pages/');
    return (await this.list(prefix, '/')).prefixes.map((common) => decodeURIComponent(common.slice(prefix.length, -1)));
  }
}
