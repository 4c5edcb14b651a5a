import { readPipelineFile } from './pipeline-file.ts';
import ms, { type StringValue } from 'ms';
import { z } from 'zod';
import { TransformStep } from '../transforms/steps.ts';
import { DEFAULT_TASK_QUEUE } from '../engine/constants.ts';
import { isSecretReference } from './secrets.ts';
import { closeMatch, ConfigError } from '../errors.ts';
import { BUILTIN_DESTINATION_NAMES } from '../destinations/index.ts';

/** A Temporal duration: milliseconds, or a string such as `500ms`, `1s`, `5m`, `2h`. */
export const Duration = z.union([
  z.number().int().nonnegative(),
  // Typed as `ms`'s StringValue, which is what the regex admits and what Temporal's options take.
  z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 1s, 5m or 2h') as unknown as z.ZodType<StringValue>,
]);
export type Duration = z.infer<typeof Duration>;

/** A {@link Duration} in milliseconds (`ms`, the parser Temporal's SDK uses). */
export function durationToMs(duration: Duration): number {
  return typeof duration === 'number' ? duration : ms(duration);
}

/** A credential in the pipeline config: kept in workflow history, so only ever a reference to the environment. */
const SecretReference = z.string().refine(isSecretReference, {
  message: 'must be a secret reference (BIZON_ENV_<NAME> or ${env://NAME}), not the value: the pipeline config is kept in workflow history',
});

/** `engine.temporal.tls`: TLS to the Temporal frontend (mTLS with a client certificate). */
export const TemporalTlsConfig = z.strictObject({
  client_cert_path: z.string().optional().describe('PEM file of the client certificate (mTLS)'),
  client_key_path: z.string().optional().describe('PEM file of its private key'),
  client_cert: SecretReference.optional().describe('The client certificate PEM itself, as a secret reference (instead of client_cert_path)'),
  client_key: SecretReference.optional().describe('The private key PEM itself, as a secret reference (instead of client_key_path)'),
  server_ca_cert_path: z.string().optional().describe("PEM file of the CA that signed the server's certificate (default: the system's CAs)"),
  server_ca_cert: z.string().optional().describe('That CA certificate PEM itself (or a secret reference)'),
  server_name: z.string().optional().describe("The name in the server's certificate, when it is not the address's host"),
  disabled: z.boolean().optional().describe('Plaintext even when the environment or a profile asks for TLS'),
});

/** `engine.temporal`: where the Temporal server is, and how to authenticate to it. */
export const TemporalConfig = z.strictObject({
  address: z.string().optional().describe('host:port of the Temporal frontend; unset = TEMPORAL_ADDRESS or the Temporal config profile, else a local server'),
  namespace: z.string().optional().describe('Temporal namespace; unset = TEMPORAL_NAMESPACE or the profile, else default'),
  task_queue: z.string().default(DEFAULT_TASK_QUEUE).describe('Task queue the workers poll'),
  api_key: SecretReference.optional().describe('API key (Temporal Cloud), as a secret reference; unset = TEMPORAL_API_KEY or the profile. Turns TLS on'),
  tls: TemporalTlsConfig.optional().describe('TLS and mTLS settings; unset = TEMPORAL_TLS_* or the profile'),
});
export type TemporalConfig = z.infer<typeof TemporalConfig>;

/** `engine.retry`: the backoff of a page that failed with a transient error. */
export const RetryConfig = z.strictObject({
  initial_interval: Duration.default('1s').describe('Wait before the first retry'),
  backoff_coefficient: z.number().min(1).default(2).describe('Each wait is this many times the previous one'),
  maximum_interval: Duration.default('5m').describe('Longest wait between two attempts'),
  max_elapsed: Duration.optional().describe("Time budget of one page's attempts (e.g. 2h); when spent, the sync fails with the last error and keeps its checkpoint"),
});
export type RetryConfig = z.infer<typeof RetryConfig>;

/** `engine`: how the sync runs on Temporal. Every key has a default. */
export const EngineConfig = z.strictObject({
  temporal: TemporalConfig.prefault({}),
  retry: RetryConfig.prefault({}),
  continue_as_new_every: z
    .number()
    .int()
    .min(1)
    .default(250)
    .describe('Page activities per workflow run before it continues as new (keeps each history small); with one page per activity, pages'),
  checkpoint_every: z.number().int().min(1).default(10).describe('Pages between two checkpoints recorded in the memo (a failed sync resumes from the last one)'),
  pages_per_activity: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1)
    .describe(
      'Pages one activity reads before it reports back (1 = every page is its own activity in the Web UI). A batch still checkpoints after every page (activity heartbeat), so a crash loses at most the page in flight',
    ),
  page_activity: z
    .enum(['regular', 'local'])
    .default('regular')
    .describe(
      "regular: each get() is an activity the server schedules (any worker may take it; heartbeats find a hung one). local: each get() is a local activity of the sync's own worker, recorded in history as a marker with its page label — a fraction of the server's work per page; a worker killed mid-task re-runs the pages since its last workflow task (their slots are rewritten, the output stays exactly once)",
    ),
  activity_time_budget: Duration.default('5s').describe('With pages_per_activity > 1: a batch starts no new page after this long, so progress reaches the workflow at least this often'),
  max_parallel_streams: z.number().int().min(1).default(4).describe('With source.streams: how many streams sync at once'),
  max_parallel_slices: z.number().int().min(1).default(4).describe("With a source's getSlices(): how many slices of a stream are read at once"),
  publish: z
    .enum(['auto', 'append'])
    .default('auto')
    .describe('auto: a sync that read from a watermark appends to the output, one that read everything replaces it; append: every sync appends (a backfill of a range)'),
  page_timeout: Duration.default('10m').describe('Longest time one page (one get() call and its write) may take'),
  heartbeat_timeout: Duration.default('10s').describe('A page whose worker stops heartbeating for this long is retried elsewhere'),
});
export type EngineConfig = z.infer<typeof EngineConfig>;

/** `destination`: where records go. */
export const DestinationBlock = z.strictObject({
  name: z.string().min(1).describe(`${BUILTIN_DESTINATION_NAMES.join(' | ')}, or a destination of a --custom-source file`),
  config: z.record(z.string(), z.unknown()).default({}).describe("The destination's own settings"),
});

/**
 * A pipeline file. The `source:` block is checked here only for `name` and
 * `stream`; the source's own config class checks the rest.
 */
const SyncKeyPart = z
  .string()
  .min(1)
  .regex(/^[^'"\\:*]+$/, "must not contain quotes, backslashes, ':' or '*' (it is part of the sync's workflow id)");

/** `alerting`: a webhook told when a sync fails (and, if asked, when it is retried or succeeds). bizon's shape. */
export const AlertingConfig = z.strictObject({
  type: z.enum(['webhook', 'slack']).default('webhook').describe('webhook (Slack-compatible JSON, with a bizon field of details) or slack (the same)'),
  config: z.strictObject({
    webhook_url: z.string().min(1).describe('Where alerts are POSTed (a secret reference: BIZON_ENV_SLACK_WEBHOOK)'),
  }),
  on: z
    .array(z.enum(['failed', 'retried', 'succeeded']))
    .min(1)
    .default(['failed'])
    .describe('The events that alert: failed (default), retried (a page retried more than retries_above times), succeeded'),
  retries_above: z.number().int().min(1).default(3).describe('With on: [retried]: alert when one page or publish has failed this many times and is tried again'),
});
export type AlertingConfig = z.infer<typeof AlertingConfig>;

export const PipelineConfig = z.strictObject({
  name: SyncKeyPart.describe('Pipeline name'),
  source: z.looseObject({ name: SyncKeyPart, stream: SyncKeyPart }),
  destination: DestinationBlock,
  engine: EngineConfig.prefault({}),
  alerting: AlertingConfig.optional().describe('A webhook (Slack) told when a sync fails'),
  transforms: z
    .array(TransformStep)
    .optional()
    .describe('Steps applied to every record after it is read, before anything is written: add_fields, remove_fields, rename_fields, cast, hash, mask, filter, function'),
});
export type PipelineConfig = z.infer<typeof PipelineConfig>;

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  allOf?: JsonSchemaNode[];
}

/** The keys an object schema knows at `path`, read from zod's JSON Schema export (what the user may write). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: JsonSchemaNode[];
  try {
    nodes = [z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode];
  } catch {
    return [];
  }
  const expand = (node: JsonSchemaNode): JsonSchemaNode[] => [node, ...[...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])].flatMap(expand)];
  for (const key of path) {
    nodes = nodes.flatMap(expand).flatMap((node) => (node.properties?.[String(key)] ? [node.properties[String(key)]!] : []));
  }
  return [...new Set(nodes.flatMap(expand).flatMap((node) => Object.keys(node.properties ?? {})))];
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index ? '.' : ''}${String(key)}`)).join('');
}

/**
 * Renders zod issues as one line each: the key path, what is wrong, and for an
 * unknown key the closest known key ("did you mean page_size?").
 */
export function formatConfigIssues(error: z.ZodError, schema: z.ZodType, basePath: readonly PropertyKey[] = []): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    const path = [...basePath, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const suggestion = closeMatch(key, known);
        const hint = suggestion ? ` — did you mean '${suggestion}'?` : known.length ? ` (known keys: ${known.join(', ')})` : '';
        lines.push(`${formatPath([...path, key])}: unknown key${hint}`);
      }
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      lines.push(`${formatPath(path)}: missing (required ${issue.expected})`);
    } else {
      lines.push(`${formatPath(path) || '(top level)'}: ${issue.message}`);
    }
  }
  return lines;
}

/** Parses `value` with `schema`, or throws a {@link ConfigError} listing every problem with its key path. */
export function parseWithSchema<S extends z.ZodType>(schema: S, value: unknown, what: string, basePath: readonly PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const lines = formatConfigIssues(result.error, schema, basePath);
  throw new ConfigError(`Invalid ${what}:\n  - ${lines.join('\n  - ')}`);
}

/** A pipeline file as written: one `source.stream`, or several `source.streams`. */
const PipelineFile = PipelineConfig.extend({
  source: z.looseObject({
    name: SyncKeyPart,
    stream: SyncKeyPart.optional(),
    streams: z.array(SyncKeyPart).min(1, 'must list at least one stream').optional(),
  }),
});

/**
 * What a pipeline file asks for: the sync of each of its streams. `streams`
 * is null for a file with one `source.stream`, whose one pipeline is its own.
 */
export interface PipelineDefinition {
  name: string;
  /** One pipeline config per stream: the file with `source.stream` set to it (and no `source.streams`). */
  pipelines: PipelineConfig[];
  /** The streams of `source.streams`, in order; null for a one-stream file. */
  streams: string[] | null;
  engine: EngineConfig;
}

/** Parses a pipeline file's content (already read from YAML) into the sync of each of its streams. */
export function parsePipelineDefinition(raw: unknown, origin = 'pipeline config'): PipelineDefinition {
  const file = parseWithSchema(PipelineFile, raw, origin);
  const { stream, streams } = file.source;
  if (stream !== undefined && streams !== undefined) {
    throw new ConfigError(`Invalid ${origin}:\n  - source: set either stream (one stream) or streams (a list of streams), not both`);
  }
  if (streams === undefined) return { name: file.name, pipelines: [parsePipelineConfig(raw, origin)], streams: null, engine: file.engine };
  const repeated = streams.filter((name, index) => streams.indexOf(name) !== index);
  if (repeated.length > 0) throw new ConfigError(`Invalid ${origin}:\n  - source.streams: ${repeated.join(', ')} listed more than once`);
  const { streams: _streams, ...source } = (raw as { source: Record<string, unknown> }).source;
  const pipelines = streams.map((name) => parsePipelineConfig({ ...(raw as object), source: { ...source, stream: name } }, `${origin} (stream ${name})`));
  return { name: file.name, pipelines, streams, engine: file.engine };
}

/** Parses a pipeline config object (already read from YAML) with one `source.stream`. */
export function parsePipelineConfig(raw: unknown, origin = 'pipeline config'): PipelineConfig {
  const source = (raw as { source?: { streams?: unknown; stream?: unknown } } | null)?.source;
  if (source && typeof source === 'object' && source.streams !== undefined && source.stream === undefined) {
    throw new ConfigError(`${origin} lists several streams (source.streams): run it with \`bizon run\`, or from a program with startPipeline()/runPipeline()`);
  }
  return parseWithSchema(PipelineConfig, raw, origin);
}

/** Reads a pipeline YAML file into the sync of each of its streams. */
export async function readPipelineDefinition(file: string): Promise<PipelineDefinition> {
  return parsePipelineDefinition(await readPipelineYaml(file), `config file ${file}`);
}

/** Reads a pipeline YAML file as written (not validated): what `bizonPipeline` takes as its `pipeline`. */
export async function readPipelineYaml(file: string): Promise<unknown> {
  return readPipelineFile(file);
}
