// A destination of your own: CSV files, one per destination id, published exactly once.
// Pages are staged with the SDK's StagedPageFiles (a retried page replaces its file); finalize joins
// them into the CSV beside the target and renames it over the target, so readers see the old file or the new.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { z } from 'zod';
import {
  defineDestination,
  NonRetryableError,
  linesByDestination,
  StagedPageFiles,
  toRows,
  writeFileAtomic,
  type Destination,
  type DestinationRow,
  type PublishedOutput,
  type PublishMode,
  type WriteBatch,
  type WriteResult,
} from 'bizon-temporal';

export const CsvDestinationConfig = z.strictObject({
  directory: z.string().min(1).default('.').describe('Where <destination_id>.csv files go'),
  columns: z.array(z.string().min(1)).min(1).describe('The fields of source_data to write, in order (after source_record_id)'),
  destination_id: z.string().min(1).optional().describe('File name without .csv (default: <source>_<stream>)'),
});
export type CsvDestinationConfig = z.infer<typeof CsvDestinationConfig>;

/** One CSV field, quoted when it must be. */
function field(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

class CsvDestination implements Destination {
  private readonly directory: string;
  private readonly staging: StagedPageFiles;

  constructor(
    private readonly config: CsvDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    this.directory = path.resolve(config.directory);
    this.staging = new StagedPageFiles(path.join(this.directory, '.csv-staging'));
  }

  private *csvLines(rows: DestinationRow[]): Generator<string> {
    for (const row of rows) yield `${[row.source_record_id, ...this.config.columns.map((column) => row.source_data[column])].map(field).join(',')}\n`;
  }

  async checkConnection(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const rows = toRows(batch, this.defaultDestinationId);
    return this.staging.writePage(batch, linesByDestination(rows, (list) => this.csvLines(list)));
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const marker = path.join(this.staging.runDir(run.syncRunId), 'published.json');
    const published = await readFile(marker, 'utf8').then(JSON.parse, () => undefined);
    if (published) return published as PublishedOutput[]; // a retried finalize: already done
    if (run.mode === 'append') throw new NonRetryableError('The CSV destination only does full refreshes: use sync_mode: full_refresh');
    const outputs: PublishedOutput[] = [];
    for (const destinationId of (await this.staging.destinationIds(run.syncRunId)).sort()) {
      const target = path.join(this.directory, `${destinationId}.csv`);
      const temporary = `${target}.tmp`;
      const out = createWriteStream(temporary);
      out.write(`${['id', ...this.config.columns].map(field).join(',')}\n`);
      let records = 0;
      for (const page of await this.staging.pageFiles(run.syncRunId, destinationId)) {
        const content = await readFile(page, 'utf8');
        records += content.split('\n').length - 1;
        if (!out.write(content)) await once(out, 'drain');
      }
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      await rename(temporary, target);
      outputs.push({ destinationId, records, location: target });
    }
    await writeFileAtomic(marker, JSON.stringify(outputs));
    await this.staging.removePages(run.syncRunId);
    return outputs;
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.staging.removeRun(run.syncRunId);
  }
}

/** `destination.name: csv`: export the definition, and give this file with --custom-source. */
export const csv = defineDestination({
  name: 'csv',
  config: CsvDestinationConfig,
  create: (config, defaultDestinationId) => new CsvDestination(config, defaultDestinationId),
});
