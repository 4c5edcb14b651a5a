import { ActivityFailure, allHandlersFinished, ApplicationFailure, CancellationScope, condition, defineUpdate, proxyLocalActivities, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { INVALID_INPUT, isObject } from './input-check.ts';
import { syncEveryStream, type StreamsTracker } from './pipeline.ts';
import type { OverlapPolicy, PipelineResult, PipelineStreamOutcome, PipelineWorkflowInput } from './types.ts';

/**
 * The input of `bizonPipeline`, the workflow any Temporal client starts: the pipeline file as JSON (exactly what the
 * YAML says, secret references only) and run options named like the `bizon run` flags they mirror.
 */
export interface BizonPipelineInput {
  /** The pipeline file as JSON: `name`, `source` (with `stream` or `streams`), `destination`, `engine`, … */
  pipeline: Record<string, unknown>;
  /** `bizon run --reset`: re-read everything, replace the destination, and make this run the new watermark. */
  reset?: boolean;
  /** `bizon run --force-ignore-checkpoint`: start from page one even if the last run failed and left a checkpoint. */
  force_ignore_checkpoint?: boolean;
  /** Stop each stream after this many pages (overrides `source.max_iterations`). */
  max_iterations?: number;
  /** When a stream's sync is already running (started by anyone): `skip` the stream (default), or `wait` for it and then run. */
  overlap?: OverlapPolicy;
  /** `bizon run --allow-literal-secrets`: run although credentials are written literally in the pipeline. */
  allow_literal_secrets?: boolean;
}

/** Input of the `compilePipeline` activity: the pipeline and the options that change what is compiled. */
export type CompilePipelineInput = Omit<BizonPipelineInput, 'overlap'>;

/**
 * Answers once the pipeline is compiled and each stream that can start now has started (or was skipped, or failed
 * to): every stream's outcome so far. A client that started the workflow with this update (update-with-start) then
 * follows the syncs by their ids, knowing they exist.
 */
export const streamsStartedUpdate = defineUpdate<PipelineStreamOutcome[]>('streamsStarted');

// A local activity: the worker that runs this workflow compiles at once, with no task of the server's in between
// (its result is a marker in history, readable in the Web UI like an activity's).
const { compilePipeline } = proxyLocalActivities<{ compilePipeline(input: CompilePipelineInput): Promise<PipelineWorkflowInput> }>({
  startToCloseTimeout: '1m',
  // Only a lost worker or server is retried: a pipeline that cannot run fails the first attempt for good.
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
});

const OPTION_TYPES: Record<keyof Omit<BizonPipelineInput, 'pipeline'>, (value: unknown) => boolean> = {
  reset: (value) => typeof value === 'boolean',
  force_ignore_checkpoint: (value) => typeof value === 'boolean',
  max_iterations: (value) => typeof value === 'number' && Number.isInteger(value) && value > 0,
  overlap: (value) => value === 'skip' || value === 'wait',
  allow_literal_secrets: (value) => typeof value === 'boolean',
};

/**
 * Runs a pipeline as written, started by any Temporal client (Python, Go, the `temporal` CLI, a Schedule, the Web
 * UI): the worker compiles it with its own sources and secrets, then syncs each stream as a child under the stream's
 * fixed id — so two runs of a stream never overlap, whoever started them. Returns every stream's outcome; fails at
 * once, naming what is wrong, for an input or a pipeline that cannot run.
 */
export async function bizonPipeline(input: BizonPipelineInput): Promise<PipelineResult> {
  let tracker: StreamsTracker | undefined;
  // Set when the run ends before its streams are underway (an input or pipeline that cannot run, a cancel).
  let endedEarly: unknown;
  const underway = () => tracker !== undefined && tracker.lanesUnderway >= tracker.lanes;
  setHandler(streamsStartedUpdate, async () => {
    await condition(() => underway() || endedEarly !== undefined);
    if (!underway()) throw endedEarly instanceof ApplicationFailure ? endedEarly : ApplicationFailure.create({ nonRetryable: true, message: String(endedEarly) });
    return tracker!.outcomes.map((outcome) => ({ ...outcome }));
  });
  try {
    return await compileAndRun(input, (created) => (tracker = created));
  } catch (error) {
    endedEarly = error;
    throw error;
  } finally {
    // A client waiting on the update gets its answer before the run closes (a sync may end in the task it started in).
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}

async function compileAndRun(input: BizonPipelineInput, onTracker: (tracker: StreamsTracker) => void): Promise<PipelineResult> {
  checkInput(input);
  let compiled: PipelineWorkflowInput;
  try {
    const { overlap: _overlap, ...options } = input;
    compiled = await compilePipeline(Object.fromEntries(Object.entries(options).filter(([, value]) => value !== null && value !== undefined)) as CompilePipelineInput);
  } catch (error) {
    // The pipeline's own message, not the wrapper's ("Activity task failed").
    if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({ type: error.cause.type ?? INVALID_INPUT, nonRetryable: true, message: error.cause.message });
    }
    throw error;
  }
  upsertMemo({ bizon_pipeline: compiled.name, bizon_source: compiled.source, bizon_streams: compiled.streams.map((stream) => stream.stream) });
  upsertSearchAttributes(compiled.streams[0]!.searchAttributes.filter((pair) => pair.key.name !== 'BizonStream') as Parameters<typeof upsertSearchAttributes>[0]);
  return syncEveryStream(compiled, input.overlap ?? 'skip', onTracker);
}

function checkInput(input: unknown): asserts input is BizonPipelineInput {
  const problems: string[] = [];
  if (!isObject(input)) problems.push('the input is not a JSON object');
  else {
    if (!isObject(input.pipeline)) problems.push('"pipeline" is missing or not an object: give the pipeline file as JSON');
    for (const [key, value] of Object.entries(input)) {
      if (key === 'pipeline') continue;
      const valid = OPTION_TYPES[key as keyof typeof OPTION_TYPES];
      if (!valid) problems.push(`"${key}" is not an option (options: ${Object.keys(OPTION_TYPES).join(', ')})`);
      else if (value !== undefined && value !== null && !valid(value)) problems.push(`"${key}" has the wrong type (${key === 'overlap' ? '"skip" or "wait"' : key === 'max_iterations' ? 'a positive integer' : 'true or false'})`);
    }
  }
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: INVALID_INPUT,
      nonRetryable: true,
      message: `bizonPipeline's input is {"pipeline": <the pipeline file as JSON>, …options}: ${problems.join('; ')} (docs/any-client.md)`,
    });
  }
}
