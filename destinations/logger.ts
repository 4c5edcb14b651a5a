import { z } from 'zod';
import { toRows, type Destination, type PublishedOutput, type WriteBatch } from './destination.ts';

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

  async write(batch: WriteBatch): Promise<void> {
    const rows = toRows(batch, this.destinationId);
    if (rows.length > 0) this.out.write(`${rows.map((row) => JSON.stringify(row)).join('\n')}\n`);
  }

  async finalize(): Promise<PublishedOutput[]> {
    return [];
  }

  async abort(): Promise<void> {}
}
