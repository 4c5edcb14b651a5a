/**
 * The ids bizon gives Temporal objects, in one place. Each is built from a
 * pipeline's (name, source, stream), none of which may contain ':' (the
 * pipeline schema refuses it), so every id parses back into its parts.
 */

/** What identifies one pipeline's stream: the config's `name`, `source.name` and `source.stream`. */
export interface PipelineKey {
  name: string;
  source: string;
  stream: string;
}

/** Anything carrying a pipeline's name, source and stream (a pipeline config does). */
export type PipelineLike = { name: string; source: { name: string; stream: string } };

const SYNC_PREFIX = 'bizon-sync';
/** The stream part of the schedule and scheduled-run ids of a pipeline of several streams (source.streams). */
export const ALL_STREAMS = '*';
const SCHEDULE_PREFIX = 'bizon-schedule';
const LAUNCHER_PREFIX = 'bizon-scheduled';
const STATE_PREFIX = 'bizon-state';
const PACER_PREFIX = 'bizon-pace';
const PIPELINE_PREFIX = 'bizon-pipeline';

function keyOf(pipeline: PipelineLike): PipelineKey {
  return { name: pipeline.name, source: pipeline.source.name, stream: pipeline.source.stream };
}

function idOf(prefix: string, pipeline: PipelineLike): string {
  const key = keyOf(pipeline);
  return `${prefix}:${key.name}:${key.source}:${key.stream}`;
}

function parse(prefix: string, id: string): PipelineKey | undefined {
  const parts = id.split(':');
  if (parts.length !== 4 || parts[0] !== prefix || parts.slice(1).some((part) => part === '')) return undefined;
  return { name: parts[1]!, source: parts[2]!, stream: parts[3]! };
}

/** The id of the one sync workflow that may run for a pipeline's stream: `bizon-sync:<name>:<source>:<stream>`. */
export function syncWorkflowId(pipeline: PipelineLike): string {
  return idOf(SYNC_PREFIX, pipeline);
}

/** The parts of a {@link syncWorkflowId}, or undefined when `id` is not one. */
export function parseSyncWorkflowId(id: string): PipelineKey | undefined {
  return parse(SYNC_PREFIX, id);
}

/** The start of every sync workflow id of a pipeline name (for visibility queries without search attributes). */
export function syncWorkflowIdPrefix(pipelineName: string): string {
  return `${SYNC_PREFIX}:${pipelineName}:`;
}

/** The id of a pipeline stream's Temporal Schedule: `bizon-schedule:<name>:<source>:<stream>`. */
export function scheduleId(pipeline: PipelineLike): string {
  return idOf(SCHEDULE_PREFIX, pipeline);
}

/** The parts of a {@link scheduleId}, or undefined when `id` is not one. */
export function parseScheduleId(id: string): PipelineKey | undefined {
  return parse(SCHEDULE_PREFIX, id);
}

/** The workflow id a Schedule gives its runs (`bizonPipeline`; Temporal appends the time of each run). */
export function scheduledLauncherId(pipeline: PipelineLike): string {
  return idOf(LAUNCHER_PREFIX, pipeline);
}

/** The id of a pipeline stream's state workflow, which keeps its watermark and checkpoint: `bizon-state:<name>:<source>:<stream>`. */
export function streamStateWorkflowId(pipeline: PipelineLike): string {
  return idOf(STATE_PREFIX, pipeline);
}

/** What the ids of a pipeline's state workflows start with (`bizon-state:<name>:`). */
export function streamStateWorkflowIdPrefix(pipelineName: string): string {
  return `${STATE_PREFIX}:${pipelineName}:`;
}

/** The key of a pipeline stream, as its state workflow records it. */
export function pipelineKeyOf(pipeline: PipelineLike): PipelineKey {
  return keyOf(pipeline);
}

/**
 * The id of the workflow that paces every `get()` of a source name under `requests_per_second`, for the workers
 * of one task queue (a fleet): `bizon-pace:<task queue>:<source>`.
 */
export function requestPacerWorkflowId(taskQueue: string, sourceName: string): string {
  return `${PACER_PREFIX}:${taskQueue}:${sourceName}`;
}

/** The id of the workflow that syncs every stream of a pipeline with `source.streams`: `bizon-pipeline:<name>:<source>`. */
export function pipelineWorkflowId(pipeline: { name: string; source: { name: string } }): string {
  return `${PIPELINE_PREFIX}:${pipeline.name}:${pipeline.source.name}`;
}

/**
 * The id of the `bizonPipeline` run bizon starts for a pipeline of one stream: `bizon-pipeline:<name>:<source>:<stream>`
 * (a pipeline of several streams runs under {@link pipelineWorkflowId}); its sync runs as its child under {@link syncWorkflowId}.
 */
export function streamRunWorkflowId(pipeline: PipelineLike): string {
  return idOf(PIPELINE_PREFIX, pipeline);
}

/** Whether `id` is a {@link streamRunWorkflowId} (the run of a pipeline of one stream), not a pipeline of several. */
export function isStreamRunWorkflowId(id: string): boolean {
  return parse(PIPELINE_PREFIX, id) !== undefined;
}

/** Prefix of the pipeline workflows of one pipeline name (for `bizon cancel`). */
export function pipelineWorkflowIdPrefix(pipelineName: string): string {
  return `${PIPELINE_PREFIX}:${pipelineName}:`;
}
