import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/** Like {@link writeFileAtomic}, streaming `lines` (each ending in a newline) so a large page is never one string; returns the bytes written. */
export async function writeLinesAtomic(file: string, lines: Iterable<string>): Promise<number> {
  const temporary = temporaryBeside(file);
  const out = createWriteStream(temporary);
  await pipeline(Readable.from(lines), out);
  await rename(temporary, file);
  return out.bytesWritten;
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
      const dir = this.destinationDir(batch.syncRunId, destinationId);
      await mkdir(dir, { recursive: true });
      bytes += await writeLinesAtomic(path.join(dir, pageFileName(batch)), lines);
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
