import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { S3SettingsConfig } from './lake-store.ts';
import { exists, linesByDestination, StagedPageFiles, writeFileAtomic, writePagesAndEnd } from './page-files.ts';

/** Config of the `file` destination. */
export const FileDestinationConfig = z.strictObject({
  directory: z
    .string()
    .min(1)
    .default('.')
    .refine((text) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^s3:\/\/[^/]+/.test(text), { message: 'a local directory, or s3://bucket/prefix' })
    .describe('Directory of the output files (relative to the worker’s working directory), or s3://bucket/prefix'),
  s3: S3SettingsConfig,
  destination_id: z.string().min(1).optional().describe('Output file name without .jsonl (defaults to <source>_<stream>)'),
  compression: z.enum(['none', 'gzip']).default('none').describe("gzip writes <id>.jsonl.gz (an incremental sync appends a gzip member: any gzip reader reads the whole)"),
});
export type FileDestinationConfig = z.infer<typeof FileDestinationConfig>;

const STAGING_DIR = '.bizon-staging';
const RESULT_FILE = 'published.json';
const COMMIT_FILE = 'commit.json';

/** The longest file name most file systems take, in bytes. */
const MAX_FILE_NAME_BYTES = 255;

/** Rejects ids that would write outside the directory, or name a file no file system takes: retrying cannot help. */
export function checkDestinationId(id: string): void {
  if (id === '' || id.startsWith('.') || /[/\\\0]/.test(id)) {
    throw new NonRetryableError(`Invalid destination id '${id}': it names a file, so it cannot be empty, start with '.', or contain '/' or '\\'`);
  }
  // The staging folder is named by the URL-encoded id, the output file by the id and `.jsonl`.
  const longest = Math.max(Buffer.byteLength(`${id}.jsonl`), Buffer.byteLength(encodeURIComponent(id)));
  if (longest > MAX_FILE_NAME_BYTES) {
    throw new NonRetryableError(
      `Destination id '${id.slice(0, 40)}…' is too long for a file name (${longest} bytes, at most ${MAX_FILE_NAME_BYTES}): shorten destination_id, or the destinationId the source gives its records`,
    );
  }
}

/**
 * Writes NDJSON files `<directory>/<destination_id>.jsonl`, one per routed
 * destination id. Pages are staged per (sync run, iteration) and published
 * by an atomic rename at finalize: readers see the old file or the new one.
 */
export class FileDestination implements Destination {
  private readonly directory: string;
  private readonly staging: StagedPageFiles;

  constructor(
    private readonly config: z.input<typeof FileDestinationConfig>,
    private readonly defaultDestinationId: string,
  ) {
    this.directory = path.resolve(config.directory ?? '.');
    this.staging = new StagedPageFiles(path.join(this.directory, STAGING_DIR));
    checkDestinationId(defaultDestinationId);
  }

  /** Final output file of a destination id. */
  outputFile(destinationId: string): string {
    return path.join(this.directory, `${destinationId}.jsonl${this.config.compression === 'gzip' ? '.gz' : ''}`);
  }

  async checkConnection(): Promise<void> {
    try {
      await mkdir(this.directory, { recursive: true });
      await access(this.directory, constants.W_OK);
    } catch (error) {
      throw new NonRetryableError(`File destination cannot write to directory ${this.directory}: ${(error as Error).message}`);
    }
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const byDestination = linesByDestination(toRows(batch, this.defaultDestinationId));
    for (const destinationId of byDestination.keys()) checkDestinationId(destinationId);
    try {
      return await this.staging.writePage(batch, byDestination);
    } catch (error) {
      throw new DestinationWriteError(`File destination could not stage page ${batch.iteration} in ${this.staging.runDir(batch.syncRunId)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const runDir = this.staging.runDir(run.syncRunId);
    const resultFile = path.join(runDir, RESULT_FILE);
    if (await exists(resultFile)) return JSON.parse(await readFile(resultFile, 'utf8')) as PublishedOutput[];

    const destinationIds = await this.staging.destinationIds(run.syncRunId);
    if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);

    const published: PublishedOutput[] = [];
    try {
      await mkdir(runDir, { recursive: true });
      for (const destinationId of destinationIds.sort()) {
        published.push(await this.publishOne(run.syncRunId, destinationId, run.mode));
      }
      await writeFileAtomic(resultFile, JSON.stringify(published));
      await this.staging.removePages(run.syncRunId);
    } catch (error) {
      throw new DestinationWriteError(`File destination could not publish run ${run.syncRunId}: ${(error as Error).message}`, { cause: error });
    }
    return published;
  }

  /**
   * Builds the new file beside the target and renames it over the target. A
   * commit record written before the rename makes a retried finalize finish
   * the rename instead of appending twice.
   */
  private async publishOne(syncRunId: string, destinationId: string, mode: PublishMode): Promise<PublishedOutput> {
    const target = this.outputFile(destinationId);
    const pageDir = this.staging.destinationDir(syncRunId, destinationId);
    const commitFile = path.join(pageDir, COMMIT_FILE);
    if (await exists(commitFile)) {
      const commit = JSON.parse(await readFile(commitFile, 'utf8')) as { temporary: string; records: number };
      if (await exists(commit.temporary)) await rename(commit.temporary, target);
      return { destinationId, records: commit.records, location: target };
    }

    const pages = await this.staging.pageFiles(syncRunId, destinationId);
    const temporary = `${target}.bizon-${encodeURIComponent(encodeURIComponent(syncRunId))}.tmp`;
    const out = createWriteStream(temporary);
    if (mode === 'append' && (await exists(target))) {
      await pipeline(createReadStream(target), out, { end: false });
    }
    // gzip: the run's pages are one gzip member after the file's.
    const records = await writePagesAndEnd(pages, out, this.config.compression === 'gzip');
    await mkdir(pageDir, { recursive: true });
    await writeFileAtomic(commitFile, JSON.stringify({ temporary, records }));
    await rename(temporary, target);
    return { destinationId, records, location: target };
  }

  async forgetPublished(run: { syncRunId: string }): Promise<void> {
    await this.staging.removeRun(run.syncRunId);
    await this.staging.removeRootIfEmpty();
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.staging.removeRun(run.syncRunId);
    await this.staging.removeRootIfEmpty();
  }

  /** Removes the staging of runs that published more than `olderThanMs` ago. */
  async prune(olderThanMs: number): Promise<void> {
    for (const dir of await this.staging.runDirs()) {
      const result = path.join(dir, RESULT_FILE);
      if ((await exists(result)) && Date.now() - (await stat(result)).mtimeMs > olderThanMs) await rm(dir, { recursive: true, force: true });
    }
    await this.staging.removeRootIfEmpty();
  }
}
