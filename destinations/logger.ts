import { z } from 'zod';
import { toRows, type Destination, type PublishedOutput, type WriteBatch, type WriteResult } from './destination.ts';

/** Config of the `logger` destination. */
export const LoggerDestinationConfig = z.strictObject({
  destination_id: z.string().min(1).optional().describe('Name of the output (defaults to <source>_<stream>)'),
});
export type LoggerDestinationConfig = z.infer<typeof LoggerDestinationConfig>;

/** Prints each record as one JSON line on the worker's standard output. For trying a source out. */
export class LoggerDestination implements Destination {
  constructor(
    private readonly destinationId: string,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async checkConnection(): Promise<void> {}

  async write(batch: WriteBatch): Promise<WriteResult> {
    const rows = toRows(batch, this.destinationId);
    if (rows.length === 0) return { bytes: 0 };
    const text = `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
    this.out.write(text);
    return { bytes: Buffer.byteLength(text) };
  }

  async finalize(): Promise<PublishedOutput[]> {
    return [];
  }

  async abort(): Promise<void> {}
}
