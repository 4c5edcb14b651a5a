import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DestinationRow, WriteBatch } from './destination.ts';

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

/** Like {@link writeFileAtomic}, streaming `lines` (each ending in a newline) so a large page is never one string. */
export async function writeLinesAtomic(file: string, lines: Iterable<string>): Promise<void> {
  const temporary = temporaryBeside(file);
  await pipeline(Readable.from(lines), createWriteStream(temporary));
  await rename(temporary, file);
}

/** A page's file name: sliced pages sort by slice, then page, so a slice's records stay in order. */
export function pageFileName(batch: Pick<WriteBatch, 'slice' | 'iteration'>): string {
  return `${batch.slice === undefined ? '' : `s${String(batch.slice).padStart(6, '0')}-`}${String(batch.iteration).padStart(10, '0')}.jsonl`;
}

/** The rows of a page, by destination id. */
export function rowsByDestination<Row extends DestinationRow>(rows: Iterable<Row>): Map<string, Row[]> {
  const byDestination = new Map<string, Row[]>();
  for (const row of rows) {
    const list = byDestination.get(row.destination_id);
    if (list) list.push(row);
    else byDestination.set(row.destination_id, [row]);
  }
  return byDestination;
}

function* jsonLines(rows: Iterable<unknown>): Generator<string> {
  for (const row of rows) yield `${JSON.stringify(row)}\n`;
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
    return path.join(this.root, encodeURIComponent(syncRunId));
  }

  private pagesDir(syncRunId: string): string {
    return path.join(this.runDir(syncRunId), 'pages');
  }

  destinationDir(syncRunId: string, destinationId: string): string {
    return path.join(this.pagesDir(syncRunId), encodeURIComponent(destinationId));
  }

  /** Stages a page's rows, one file per destination id, each row one JSON line. */
  async writePage(batch: Pick<WriteBatch, 'syncRunId' | 'slice' | 'iteration'>, byDestination: ReadonlyMap<string, Iterable<unknown>>): Promise<void> {
    for (const [destinationId, rows] of byDestination) {
      const dir = this.destinationDir(batch.syncRunId, destinationId);
      await mkdir(dir, { recursive: true });
      await writeLinesAtomic(path.join(dir, pageFileName(batch)), jsonLines(rows));
    }
  }

  /** The destination ids the run staged pages for. */
  async destinationIds(syncRunId: string): Promise<string[]> {
    const dir = this.pagesDir(syncRunId);
    return (await exists(dir)) ? (await readdir(dir)).map((name) => decodeURIComponent(name)) : [];
  }

  /** The page files of one destination id, in page order (full paths). */
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

  /** The run directories under the root. */
  async runDirs(): Promise<string[]> {
    return (await exists(this.root)) ? (await readdir(this.root)).map((name) => path.join(this.root, name)) : [];
  }
}
