import { once } from 'node:events';
import { access, mkdir, open, readdir, readFile, rename, rm, rmdir, writeFile, type FileHandle } from 'node:fs/promises';
import { createGzip } from 'node:zlib';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { DestinationRow, WriteBatch, WriteResult } from './destination.ts';

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function temporaryBeside(file: string): string {
  return `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/** Writes a file so that readers see the old content or the new, never a part. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temporary = temporaryBeside(file);
  await writeFile(temporary, content);
  await rename(temporary, file);
}

/** Pages up to this size are written in one call; larger ones are streamed, so a large page is never one string. */
const ONE_WRITE_BYTES = 1 << 20;

/**
 * Like {@link writeFileAtomic}, for `lines` (each ending in a newline); returns the bytes written. Its directory is
 * made when it is missing (found by the write itself: a page costs no directory call when it is there).
 */
export async function writeLinesAtomic(file: string, lines: Iterable<string>): Promise<number> {
  const temporary = temporaryBeside(file);
  let handle: FileHandle;
  try {
    handle = await open(temporary, 'w');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(path.dirname(file), { recursive: true });
    handle = await open(temporary, 'w');
  }
  let bytes: number;
  // A large page's stream closes the file itself when it ends (or fails).
  let streamed = false;
  try {
    const iterator = lines[Symbol.iterator]();
    const head: string[] = [];
    let size = 0;
    let next = iterator.next();
    for (; !next.done && size < ONE_WRITE_BYTES; next = iterator.next()) {
      head.push(next.value);
      size += next.value.length;
    }
    if (next.done) {
      const text = head.join('');
      await handle.writeFile(text);
      bytes = Buffer.byteLength(text);
    } else {
      const first = next.value;
      const rest = function* () {
        yield* head;
        yield first;
        for (let item = iterator.next(); !item.done; item = iterator.next()) yield item.value;
      };
      streamed = true;
      const out = handle.createWriteStream();
      await pipeline(Readable.from(rest()), out);
      bytes = out.bytesWritten;
    }
  } finally {
    if (!streamed) await handle.close();
  }
  await rename(temporary, file);
  return bytes;
}

/** A page's file name: sliced pages sort by slice, then page, so a slice's records stay in order. */
export function pageFileName(batch: Pick<WriteBatch, 'slice' | 'iteration'>): string {
  return `${batch.slice === undefined ? '' : `s${String(batch.slice).padStart(6, '0')}-`}${String(batch.iteration).padStart(10, '0')}.jsonl`;
}

/** The rows of a page by destination id, each turned into lines by `toLines` (JSON lines by default). */
export function linesByDestination<Row extends DestinationRow>(rows: Iterable<Row>, toLines: (rows: Row[]) => Iterable<string> = jsonLines): Map<string, Iterable<string>> {
  const byDestination = new Map<string, Row[]>();
  for (const row of rows) {
    const list = byDestination.get(row.destination_id);
    if (list) list.push(row);
    else byDestination.set(row.destination_id, [row]);
  }
  return new Map([...byDestination].map(([destinationId, list]) => [destinationId, toLines(list)]));
}

/** Each row as one JSON line. */
export function* jsonLines(rows: Iterable<unknown>): Generator<string> {
  for (const row of rows) yield `${JSON.stringify(row)}\n`;
}

/**
 * A name as a path segment: URL-encoded, with the characters encodeURIComponent leaves (`! ' ( ) *`) encoded
 * too, so a segment holds no glob pattern (a database reading the files by path must not expand one).
 */
function pathSegment(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Pages staged as NDJSON files, one per (sync run, destination id, page):
 * `<root>/<run>/pages/<destination id>/<page>.jsonl`. Writing a page again
 * replaces its file atomically, which makes staging idempotent; names are
 * URL-encoded, so no id can reach outside `root`.
 */
export class StagedPageFiles {
  constructor(readonly root: string) {}

  runDir(syncRunId: string): string {
    return path.join(this.root, pathSegment(syncRunId));
  }

  private pagesDir(syncRunId: string): string {
    return path.join(this.runDir(syncRunId), 'pages');
  }

  destinationDir(syncRunId: string, destinationId: string): string {
    return path.join(this.pagesDir(syncRunId), pathSegment(destinationId));
  }

  /**
   * Stages a page: for each destination id, its lines (each ending in a newline; {@link jsonLines} makes
   * them of rows) in one file. Staging the same page again replaces its files.
   */
  async writePage(batch: Pick<WriteBatch, 'syncRunId' | 'slice' | 'iteration'>, linesByDestination: ReadonlyMap<string, Iterable<string>>): Promise<WriteResult> {
    let bytes = 0;
    for (const [destinationId, lines] of linesByDestination) {
      bytes += await writeLinesAtomic(path.join(this.destinationDir(batch.syncRunId, destinationId), pageFileName(batch)), lines);
    }
    return { bytes };
  }

  /** The destination ids the run staged pages for. */
  async destinationIds(syncRunId: string): Promise<string[]> {
    const dir = this.pagesDir(syncRunId);
    return (await exists(dir)) ? (await readdir(dir)).map((name) => decodeURIComponent(name)) : [];
  }

  /** The page files of one destination id, in page order (full paths; each file's name ends in `.jsonl`). */
  async pageFiles(syncRunId: string, destinationId: string): Promise<string[]> {
    const dir = this.destinationDir(syncRunId, destinationId);
    if (!(await exists(dir))) return [];
    return (await readdir(dir))
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
      .map((name) => path.join(dir, name));
  }

  /** Removes the run's pages (after they were published). */
  async removePages(syncRunId: string): Promise<void> {
    await rm(this.pagesDir(syncRunId), { recursive: true, force: true });
  }

  /** Removes everything the run staged. */
  async removeRun(syncRunId: string): Promise<void> {
    await rm(this.runDir(syncRunId), { recursive: true, force: true });
  }

  /** Removes the root itself when no run is left in it, so an output directory holds only the output. */
  async removeRootIfEmpty(): Promise<void> {
    try {
      await rmdir(this.root);
    } catch (error) {
      // Another run is staging here (ENOTEMPTY, EEXIST), or the root is gone already.
      if (!['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }

  /** The run directories under the root. */
  async runDirs(): Promise<string[]> {
    return (await exists(this.root)) ? (await readdir(this.root)).map((name) => path.join(this.root, name)) : [];
  }
}

/**
 * Writes staged page files after what `out` already holds and ends it: as they are, or as one gzip member (a
 * reader of a gzip file reads every member). Returns the records (lines) written.
 */
export async function writePagesAndEnd(pages: readonly string[], out: Writable, gzip: boolean): Promise<number> {
  const zipper = gzip ? createGzip() : undefined;
  const piped = zipper ? pipeline(zipper, out) : undefined;
  const sink: Writable = zipper ?? out;
  let records = 0;
  for (const page of pages) {
    const content = await readFile(page);
    for (const byte of content) if (byte === NEWLINE) records++;
    if (!sink.write(content)) await once(sink, 'drain');
  }
  if (zipper && piped) {
    zipper.end();
    await piped;
  } else {
    out.end();
    await finished(out);
  }
  return records;
}

const NEWLINE = 0x0a;
