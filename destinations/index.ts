import type { z } from 'zod';
import type { Destination } from './destination.ts';
import { DuckDBDestination, DuckDBDestinationConfig } from './duckdb.ts';
import { FileDestination, FileDestinationConfig } from './file.ts';
import { LoggerDestination, LoggerDestinationConfig } from './logger.ts';
import { PostgresDestination, PostgresDestinationConfig } from './postgres.ts';

export type { Destination } from './destination.ts';

/** What every destination config may set. */
interface CommonDestinationConfig {
  destination_id?: string | undefined;
  /** What SQL destinations call the default destination id. */
  table?: string | undefined;
}

/** A kind of destination: the schema of its `destination.config` block and how to build one from it. */
interface DestinationKind<C extends CommonDestinationConfig> {
  config: z.ZodType<C>;
  create(config: C, defaultDestinationId: string): Destination;
}

function kind<C extends CommonDestinationConfig>(definition: DestinationKind<C>): DestinationKind<C> {
  return definition;
}

/** Every destination, by the name a pipeline gives in `destination.name`: the one list of them. */
export const DESTINATIONS = {
  logger: kind({ config: LoggerDestinationConfig, create: (_config, defaultDestinationId) => new LoggerDestination(defaultDestinationId) }),
  file: kind({ config: FileDestinationConfig, create: (config, defaultDestinationId) => new FileDestination(config, defaultDestinationId) }),
  postgres: kind({ config: PostgresDestinationConfig, create: (config, defaultDestinationId) => new PostgresDestination(config, defaultDestinationId) }),
  duckdb: kind({ config: DuckDBDestinationConfig, create: (config, defaultDestinationId) => new DuckDBDestination(config, defaultDestinationId) }),
};

/** A destination name. */
export type DestinationName = keyof typeof DESTINATIONS;

/** The destination names, for the pipeline schema. */
export const DESTINATION_NAMES = Object.keys(DESTINATIONS) as [DestinationName, ...DestinationName[]];

/** The config schema of a destination. */
export function destinationConfigSchema(name: DestinationName): z.ZodType<CommonDestinationConfig> {
  return DESTINATIONS[name].config;
}

/** Builds a destination from its config, validated by {@link destinationConfigSchema}. */
export function createDestination(name: DestinationName, config: CommonDestinationConfig, defaultDestinationId: string): Destination {
  const definition = DESTINATIONS[name] as DestinationKind<CommonDestinationConfig>;
  return definition.create(config, defaultDestinationId);
}
