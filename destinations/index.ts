import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { Destination } from './destination.ts';
import { FileDestination, FileDestinationConfig } from './file.ts';
import { LoggerDestination, LoggerDestinationConfig } from './logger.ts';

export type { Destination, DestinationRow, PublishedOutput, PublishMode, WriteBatch } from './destination.ts';
export { FileDestination, FileDestinationConfig } from './file.ts';
export { LoggerDestination, LoggerDestinationConfig } from './logger.ts';

/** Config schema of each destination, by name. */
export const DESTINATION_CONFIGS: Readonly<Record<string, z.ZodType<{ destination_id?: string | undefined }>>> = {
  logger: LoggerDestinationConfig,
  file: FileDestinationConfig,
};

/** Builds a destination from its validated config. */
export function createDestination(name: string, config: Record<string, unknown>, defaultDestinationId: string): Destination {
  switch (name) {
    case 'logger':
      return new LoggerDestination(defaultDestinationId);
    case 'file':
      return new FileDestination(FileDestinationConfig.parse(config), defaultDestinationId);
    default:
      throw new ConfigError(`Unknown destination '${name}'. Use one of: ${Object.keys(DESTINATION_CONFIGS).join(', ')}`);
  }
}
