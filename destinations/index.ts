import type { z } from 'zod';
import { closeMatch, ConfigError } from '../errors.ts';
import type { Destination } from './destination.ts';
import { DuckDBDestination, DuckDBDestinationConfig } from './duckdb.ts';
import { checkDestinationId, FileDestination, FileDestinationConfig } from './file.ts';
import { S3FileDestination } from './file-s3.ts';
import { parseS3Url } from './lake-store.ts';
import { LoggerDestination, LoggerDestinationConfig } from './logger.ts';
import { ParquetDestination, ParquetDestinationConfig } from './parquet.ts';
import { PostgresDestination, PostgresDestinationConfig } from './postgres.ts';

export type { Destination } from './destination.ts';

/** What every destination config may set. */
export interface CommonDestinationConfig {
  /** The output of records without a `destinationId` of their own (default: `<source>_<stream>`). */
  destination_id?: string | undefined;
  /** What SQL destinations call `destination_id`. */
  table?: string | undefined;
}

/**
 * A kind of destination, as `destination.name` chooses it: the schema of its
 * `destination.config` block and how to build one from it.
 */
export interface DestinationDefinition<C extends CommonDestinationConfig = CommonDestinationConfig> {
  /** The name a pipeline gives in `destination.name`. */
  name: string;
  /** The schema of `destination.config` (strict, every key described): checked by the client before a sync starts. */
  config: z.ZodType<C>;
  /**
   * Builds the destination on the worker, from the config with its secret references resolved. Called
   * once per sync run on a worker; every method of what it returns may then be called more than once.
   */
  create(config: C, defaultDestinationId: string): Destination;
}

/**
 * Declares a destination of your own. Export what it returns from a file
 * given with `--custom-source` (or `customSourceFiles`), and pipelines choose
 * it with `destination.name`.
 */
export function defineDestination<C extends CommonDestinationConfig>(definition: DestinationDefinition<C>): DestinationDefinition<C> {
  return definition;
}

/** The built-in destinations, by name. */
const BUILTIN: Readonly<Record<string, DestinationDefinition>> = {
  logger: defineDestination({ name: 'logger', config: LoggerDestinationConfig, create: (_config, defaultDestinationId) => new LoggerDestination(defaultDestinationId) }),
  file: defineDestination({
    name: 'file',
    config: FileDestinationConfig,
    create: (config, defaultDestinationId) => {
      const s3 = parseS3Url(config.directory);
      if (!s3) return new FileDestination(config, defaultDestinationId);
      return new S3FileDestination(s3.bucket, s3.prefix, config.s3 ?? { region: 'us-east-1' }, config.compression === 'gzip', defaultDestinationId, checkDestinationId);
    },
  }),
  postgres: defineDestination({ name: 'postgres', config: PostgresDestinationConfig, create: (config, defaultDestinationId) => new PostgresDestination(config, defaultDestinationId) }),
  duckdb: defineDestination({ name: 'duckdb', config: DuckDBDestinationConfig, create: (config, defaultDestinationId) => new DuckDBDestination(config, defaultDestinationId) }),
  parquet: defineDestination({ name: 'parquet', config: ParquetDestinationConfig, create: (config, defaultDestinationId) => new ParquetDestination(config, defaultDestinationId) }),
};

/** The built-in destination names, for the pipeline schema's description and messages. */
export const BUILTIN_DESTINATION_NAMES = Object.keys(BUILTIN);

/** Destinations of custom files loaded in this process. */
const custom = new Map<string, DestinationDefinition>();

/** Duck-typed, because a custom file gets its own copy of the SDK through the loader. */
export function isDestinationDefinition(value: unknown): value is DestinationDefinition {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<DestinationDefinition>;
  return typeof candidate.name === 'string' && typeof candidate.create === 'function' && typeof (candidate.config as { safeParse?: unknown } | undefined)?.safeParse === 'function';
}

/**
 * Makes a destination of your own available to pipelines in this process
 * (custom files' exported definitions are registered when they are loaded).
 * Its name may not be a built-in one, nor another definition's.
 */
export function registerDestination(definition: DestinationDefinition, origin = 'a program'): void {
  if (!/^[a-z][a-z0-9_-]*$/i.test(definition.name)) throw new ConfigError(`Destination name '${definition.name}' (from ${origin}) must be letters, digits, - and _`);
  if (BUILTIN[definition.name]) throw new ConfigError(`Destination '${definition.name}' (from ${origin}) has the name of a built-in destination: give it another name`);
  const known = custom.get(definition.name);
  if (known && known !== definition) throw new ConfigError(`Two destinations are named '${definition.name}' (the second from ${origin}): give each its own name`);
  custom.set(definition.name, definition);
}

/** The names of the destinations registered in this process (custom files loaded, programs' own). */
export function registeredDestinationNames(): string[] {
  return [...custom.keys()];
}

/** The destination `destination.name` chooses; an unknown name is refused, naming the close one and the way to add one. */
export function destinationDefinition(name: string): DestinationDefinition {
  const found = BUILTIN[name] ?? custom.get(name);
  if (found) return found;
  const names = [...BUILTIN_DESTINATION_NAMES, ...custom.keys()];
  const near = closeMatch(name, names);
  throw new ConfigError(
    `Unknown destination '${name}'.${near ? ` Did you mean '${near}'?` : ''} Destinations: ${names.join(', ')}. A destination of your own is exported with defineDestination() from a file given with --custom-source (docs/destinations.md).`,
  );
}

/** Builds a destination from its config, validated by its definition's schema. */
export function createDestination(name: string, config: CommonDestinationConfig, defaultDestinationId: string): Destination {
  return destinationDefinition(name).create(config, defaultDestinationId);
}
