import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { S3LakeStore, type S3Settings } from './lake-store.ts';
import { linesByDestination, writePagesAndEnd } from './page-files.ts';

/** What a run's publish of one object will do, written before the object is: a retry knows whether it did. */
interface Commit {
  /** The object's ETag before this run wrote it (none: there was no object). */
  before: string | null;
  records: number;
}

/**
 * The `file` destination into S3 (`directory: s3://bucket/prefix`): `<prefix><destination_id>.jsonl[.gz]`, one
 * object per destination id. Pages are staged as objects (any worker of a fleet can publish); the publish builds
 * the new object — for an incremental sync, the object as it was and then the run's pages (S3 has no append) —
 * and uploads it in one PUT (multipart past 8 MB): readers get the old object or the new. Before uploading, the
 * run writes a commit naming the object's ETag as it found it: a publish retried after a crash uploads again only
 * while the object still has that ETag, so no run is appended twice.
 */
export class S3FileDestination implements Destination {
  private readonly store: S3LakeStore;

  constructor(
    bucket: string,
    prefix: string,
    settings: S3Settings,
    private readonly gzip: boolean,
    private readonly defaultDestinationId: string,
    private readonly checkDestinationId: (id: string) => void,
  ) {
    this.store = new S3LakeStore(bucket, prefix, settings, { label: 'File destination', pathKey: 'destination.config.directory' });
    checkDestinationId(defaultDestinationId);
  }

  private objectKey(destinationId: string): string {
    return `${destinationId}.jsonl${this.gzip ? '.gz' : ''}`;
  }

  private runKey(syncRunId: string, what: string): string {
    return `_bizon_staging/runs/${createHash('sha256').update(syncRunId).digest('hex').slice(0, 16)}/${what}`;
  }

  async checkConnection(): Promise<void> {
    await this.store.check();
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const byDestination = linesByDestination(toRows(batch, this.defaultDestinationId));
    for (const destinationId of byDestination.keys()) this.checkDestinationId(destinationId);
    try {
      return await this.store.stagePage(batch, byDestination);
    } catch (error) {
      if (error instanceof NonRetryableError || error instanceof DestinationWriteError) throw error;
      throw new DestinationWriteError(`File destination could not stage page ${batch.iteration} in ${this.store.where}: ${(error as Error).message}`, { cause: error });
    }
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const record = await this.store.readText(this.runKey(run.syncRunId, 'published.json'));
    if (record !== undefined) return JSON.parse(record) as PublishedOutput[];
    const destinationIds = await this.store.stagedDestinationIds(run.syncRunId);
    if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
    const published: PublishedOutput[] = [];
    for (const destinationId of destinationIds.sort()) published.push(await this.publishOne(run, destinationId));
    await this.store.writeText(this.runKey(run.syncRunId, 'published.json'), JSON.stringify(published));
    await this.store.removeStaging(run.syncRunId);
    return published;
  }

  private async publishOne(run: { syncRunId: string; mode: PublishMode }, destinationId: string): Promise<PublishedOutput> {
    const key = this.objectKey(destinationId);
    const location = `${this.store.where.replace(/ at .*$/, '')}${key}`;
    const commitKey = this.runKey(run.syncRunId, `commit-${encodeURIComponent(destinationId)}.json`);
    const current = (await this.store.etag(key)) ?? null;
    const committed = await this.store.readText(commitKey);
    if (committed !== undefined) {
      const commit = JSON.parse(committed) as Commit;
      // The object changed since the commit: this run's upload is what changed it.
      if (current !== commit.before) return { destinationId, records: commit.records, location };
    }
    const work = await mkdtemp(path.join(tmpdir(), 'bizon-file-s3-'));
    try {
      const file = path.join(work, 'object');
      const out = createWriteStream(file);
      if (run.mode === 'append') await this.store.download(key, out);
      // gzip: the run's pages are one gzip member after the object's.
      const records = await writePagesAndEnd(await this.store.localPages(run.syncRunId, destinationId, work), out, this.gzip);
      if (committed === undefined) await this.store.writeText(commitKey, JSON.stringify({ before: current, records } satisfies Commit));
      await this.store.publishFile(file, key);
      return { destinationId, records, location };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async forgetPublished(run: { syncRunId: string }): Promise<void> {
    await this.abort(run);
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.store.removeStaging(run.syncRunId);
    await this.store.deleteUnder(this.runKey(run.syncRunId, ''));
  }

  /** Removes staged pages a crash left behind after their run published. */
  async prune(): Promise<void> {
    for (const syncRunId of await this.store.stagedRuns()) {
      if ((await this.store.readText(this.runKey(syncRunId, 'published.json'))) !== undefined) await this.store.removeStaging(syncRunId);
    }
  }
}
