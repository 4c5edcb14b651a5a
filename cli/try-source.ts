import { redact } from '../sources/redaction.ts';
import { preparePipeline, type PreparedSync } from '../config/prepare.ts';
import { durationToMs, type Duration, type PipelineConfig } from '../config/pipeline.ts';
import { resolvePipeline, type ResolvedPipeline } from '../config/resolve.ts';
import { findSecretReferences, secretHoldingParts } from '../config/secrets.ts';
import { createDestination } from '../destinations/index.ts';
import { ConfigError } from '../errors.ts';
import { readSourcePages, type ReadSourcePage } from '../sources/read-pages.ts';
import { compileTransforms } from '../transforms/steps.ts';
import { recordResponses } from '../sources/recording.ts';
import { supportsIncremental } from '../sources/registry.ts';
import { lastSessionError } from '../sources/session.ts';
import type { AbstractSource } from '../sources/source.ts';
import { EXIT_SYNC_FAILED, UsageError } from './common.ts';

/** A stream of a pipeline file, prepared as `bizon run` prepares it, its source built here with the secrets resolved. */
interface LocalStream {
  pipeline: PipelineConfig;
  prepared: PreparedSync;
  resolved: ResolvedPipeline;
  source: AbstractSource;
}

/** Prepares a pipeline file (the one compile step) and builds each (or the chosen) stream's source here, as a worker would. */
async function localStreams(configFile: string, options: { customSource: string[]; stream?: string | undefined }): Promise<LocalStream[]> {
  // Literal credentials are reported by `check`, not refused: it says what `bizon run` would refuse.
  const prepared = await preparePipeline({ config: configFile, customSourceFiles: options.customSource, allowLiteralSecrets: true });
  let streams = 'streams' in prepared ? prepared.streams : [prepared];
  if (options.stream !== undefined) {
    const all = streams;
    streams = all.filter((stream) => stream.pipeline.source.stream === options.stream);
    if (streams.length === 0) throw new UsageError(`${configFile} has no stream '${options.stream}' (it has ${all.map((stream) => stream.pipeline.source.stream).join(', ')})`);
  }
  return streams.map((stream) => {
    const resolved = resolvePipeline(stream.pipeline, stream.customSources, process.env);
    const SourceCtor = resolved.sourceClass as unknown as new (config: unknown) => AbstractSource;
    return { pipeline: stream.pipeline, prepared: stream, resolved, source: new SourceCtor(resolved.sourceConfig) };
  });
}

const label = ({ pipeline }: LocalStream) => `${pipeline.source.name}/${pipeline.source.stream}`;
const errorText = (error: unknown, secrets: readonly string[]) => redact(error instanceof Error ? error.message : String(error), secrets);

/** `bizon check <config>`: the config, its secrets, the source's connection and count, the destination — no Temporal. */
export async function checkCommand(configFile: string, options: { customSource: string[] }): Promise<number> {
  const streams = await localStreams(configFile, options);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const first = streams[0]!;
  out(`✔ config: ${configFile} (pipeline '${first.pipeline.name}', destination ${first.pipeline.destination.name})`);
  const references = [...new Set(streams.flatMap(({ pipeline }) => findSecretReferences(secretHoldingParts(pipeline)).map((reference) => reference.variable)))];
  if (references.length > 0) out(`✔ secrets: ${references.join(', ')} set`);
  let failed = false;
  const literal = [...new Set(streams.flatMap(({ prepared }) => prepared.literalCredentials))];
  if (literal.length > 0) {
    // bizon run refuses them (unless --allow-literal-secrets): they would be stored in Temporal's history.
    out(`✖ credentials written literally: ${literal.join(', ')} — write each as a reference (BIZON_ENV_<NAME>, or \${env://NAME} inside a value)`);
    failed = true;
  }
  for (const stream of streams) {
    const { source, resolved } = stream;
    const secrets = resolved.secretValues;
    const incremental = supportsIncremental(resolved.sourceClass) ? 'incremental supported' : 'full_refresh only';
    out(`✔ source ${label(stream)}: ${resolved.sourceClass.name} (${resolved.sourceConfig.sync_mode}; ${incremental})`);
    try {
      const [ok, reason] = await source.checkConnection();
      if (ok) out('✔ checkConnection(): ok');
      else {
        failed = true;
        out(`✖ checkConnection(): ${redact(reason ?? lastSessionError(source.session)?.message ?? 'failed, no reason given', secrets)}`);
        continue;
      }
    } catch (error) {
      failed = true;
      out(`✖ checkConnection() threw: ${errorText(error, secrets)}`);
      continue;
    }
    try {
      const total = await source.getTotalRecordsCount();
      out(`✔ getTotalRecordsCount(): ${typeof total === 'number' ? total : 'unknown'}`);
    } catch (error) {
      out(`! getTotalRecordsCount() threw (a sync goes on with an unknown total): ${errorText(error, secrets)}`);
    }
  }
  const destination = createDestination(first.pipeline.destination.name, first.resolved.destinationConfig, first.resolved.destinationId);
  try {
    await destination.checkConnection();
    out(`✔ destination ${first.pipeline.destination.name}: ready`);
  } catch (error) {
    failed = true;
    out(`✖ destination ${first.pipeline.destination.name}: ${errorText(error, first.resolved.secretValues)}`);
  } finally {
    await destination.close?.();
  }
  out(failed ? '✖ not ready: fix what is marked ✖ above' : `✔ ready: bizon run ${configFile}${options.customSource.map((file) => ` --custom-source ${file}`).join('')}`);
  return failed ? EXIT_SYNC_FAILED : 0;
}

/** Options of `bizon dry-run`. */
export interface DryRunOptions {
  customSource: string[];
  pages: string;
  records: string;
  output: string;
  since?: string;
  stream?: string;
  /** Save every HTTP response into this directory, for `testSource()` to replay. */
  record?: string;
}

const OUTPUTS = ['table', 'json', 'ndjson'] as const;

/** `--since`: an ISO 8601 time, or a duration before now (`2h`, `7d`). */
function parseSince(value: string): Date {
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Date.now() - (durationToMs(value as Duration) ?? Number.NaN));
  if (Number.isNaN(time.getTime())) throw new UsageError(`--since ${value}: give an ISO 8601 time (2024-05-01T00:00:00Z) or a duration before now (2h, 7d)`);
  return time;
}

function positive(value: string, flag: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`${flag} ${value}: give a whole number of at least 1`);
  return number;
}

/** A value on one line of at most `width` characters. */
function excerpt(value: unknown, width: number): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function pageLine(page: ReadSourcePage): string {
  const where = page.slice ? `slice ${page.slice.index} ${excerpt(page.slice.slice, 60)} · ` : '';
  const next = page.nextPagination ? `next pagination ${excerpt(page.nextPagination, 80)}` : 'last page (empty nextPagination)';
  return `${where}page ${page.iteration} · ${page.records.length} records · ${page.ms} ms · ${next}`;
}

/**
 * `bizon dry-run <config>`: calls the source directly for a few pages, validates each page as a sync does,
 * and prints what it returned; nothing is written, no Temporal is needed.
 */
export async function dryRunCommand(configFile: string, options: DryRunOptions): Promise<number> {
  if (!(OUTPUTS as readonly string[]).includes(options.output)) throw new UsageError(`--output ${options.output}: one of ${OUTPUTS.join(', ')}`);
  const maxPages = positive(options.pages, '--pages');
  const shown = positive(options.records, '--records');
  const since = options.since !== undefined ? parseSince(options.since) : undefined;
  const streams = await localStreams(configFile, options);
  if (streams.length > 1 && options.stream === undefined) {
    process.stderr.write(`${configFile} lists ${streams.length} streams; trying the first, ${streams[0]!.pipeline.source.stream} (choose with --stream)\n`);
  }
  const stream = streams[0]!;
  const { resolved, source, pipeline } = stream;
  if (since && typeof source.getRecordsAfter !== 'function') {
    throw new ConfigError(`--since: ${resolved.sourceClass.name} has no getRecordsAfter(), so it cannot read what changed since a time`);
  }
  if (options.record) recordResponses(source.session, options.record, resolved.secretValues);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`Dry run of ${label(stream)}: ${since ? `getRecordsAfter() since ${since.toISOString()}` : 'get()'} called here, at most ${maxPages} pages; nothing is written`);
  const pages: Array<Record<string, unknown>> = [];
  let records = 0;
  let count = 0;
  let last: ReadSourcePage | undefined;
  try {
    const reading = readSourcePages(source, {
      source: pipeline.source.name,
      stream: pipeline.source.stream,
      maxPages,
      ...(since ? { incrementalState: { lastRun: since, state: {}, runStartedAt: new Date(), ...(resolved.sourceConfig.cursor_field ? { cursorField: resolved.sourceConfig.cursor_field } : {}) } } : {}),
    });
    // The records as a sync would write them: after the pipeline's transforms.
    const transform = resolved.transforms.length > 0 ? compileTransforms(resolved.transforms) : undefined;
    for await (const read of reading) {
      const page = transform ? { ...read, records: await transform(read.records, pipeline.source.stream) } : read;
      last = page;
      count++;
      records += page.records.length;
      if (options.output === 'ndjson') {
        log(pageLine(page));
        for (const record of page.records) process.stdout.write(`${JSON.stringify({ page: page.iteration, ...(page.slice ? { slice: page.slice.index } : {}), ...record })}\n`);
      } else if (options.output === 'json') {
        pages.push({ iteration: page.iteration, ...(page.slice ? { slice: page.slice } : {}), pagination: page.pagination ?? null, nextPagination: page.nextPagination, recordCount: page.records.length, ms: page.ms, records: page.records.slice(0, shown) });
      } else {
        log(pageLine(page));
        for (const record of page.records.slice(0, shown)) {
          log(`  ${record.id.slice(0, 12).padEnd(12)}  ${(record.timestamp ?? '-').padEnd(24)}  ${record.destinationId ? `→ ${record.destinationId}  ` : ''}${excerpt(record.data, 100)}`);
        }
        if (page.records.length > shown) log(`  … ${page.records.length - shown} more`);
      }
    }
  } catch (error) {
    if (options.output === 'json') process.stdout.write(`${JSON.stringify({ source: pipeline.source.name, stream: pipeline.source.stream, pages, complete: false, error: errorText(error, resolved.secretValues) }, null, 2)}\n`);
    log(`✖ ${errorText(error, resolved.secretValues)}`);
    return EXIT_SYNC_FAILED;
  }
  const more = last?.nextPagination ? `stopped at --pages ${maxPages}; the source has more (next pagination ${excerpt(last.nextPagination, 80)})` : 'the source is exhausted';
  if (options.output === 'json') {
    process.stdout.write(`${JSON.stringify({ source: pipeline.source.name, stream: pipeline.source.stream, pages, complete: !last?.nextPagination }, null, 2)}\n`);
  }
  log(`✔ ${count} pages · ${records} records · ${more}`);
  if (options.record) log(`Recorded the responses in ${options.record}: replay them with testSource({ recordings: '${options.record}', … }) from 'bizon-temporal/testing'`);
  return 0;
}
