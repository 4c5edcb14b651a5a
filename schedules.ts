import { ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle, type ScheduleSummary } from '@temporalio/client';
import { initialMemo, pipelineMemo, preparePipeline, type PreparedPipeline, type PreparedSync, type SyncRequest } from './client.ts';
import { BIZON_PIPELINE_WORKFLOW_TYPE } from './engine/constants.ts';
import { ALL_STREAMS, parseScheduleId, scheduledLauncherId, scheduleId, type PipelineLike } from './engine/ids.ts';
import { ensureSearchAttributes } from './engine/search-attributes.ts';
import { ConfigError } from './errors.ts';
import type { BizonPipelineInput } from './workflows/bizon-pipeline.ts';
import type { OverlapPolicy, PipelineResult } from './workflows/types.ts';

/** When a scheduled sync runs: a cron expression, or a fixed interval such as `1h` or `15m`. */
export type ScheduleSpecOptions = { cron: string; every?: undefined } | { every: string; cron?: undefined };

/** Options of {@link scheduleSync}. */
export type ScheduleSyncOptions = ScheduleSpecOptions & {
  /** What a scheduled run does when a sync of the same pipeline is running: `skip` (default) or `wait` for it. */
  overlap?: OverlapPolicy;
  /** Create the schedule paused. */
  paused?: boolean;
  /** A note shown with the schedule in the Web UI. */
  note?: string;
};

/** What a schedule's action starts: `bizonPipeline` with the pipeline as written, for one stream or all of them. */
function scheduledRun(prepared: PreparedSync | PreparedPipeline, overlap: OverlapPolicy): { input: BizonPipelineInput; key: PipelineLike; memo: Record<string, unknown>; what: string } {
  if (!('streams' in prepared)) {
    const { pipeline } = prepared;
    return { input: { ...prepared.runInput, overlap }, key: pipeline, memo: { ...initialMemo(prepared) }, what: `${pipeline.source.name}/${pipeline.source.stream}` };
  }
  // One schedule per pipeline of several streams: `*` stands for all of them in its ids.
  const key = { name: prepared.name, source: { name: prepared.source, stream: ALL_STREAMS } };
  return { input: { ...prepared.runInput, overlap }, key, memo: pipelineMemo(prepared), what: `${prepared.source}/${prepared.streams.map((stream) => stream.pipeline.source.stream).join(', ')}` };
}

/**
 * Puts a sync on a Temporal Schedule — or, for a config with
 * `source.streams`, the pipeline of all its streams. Each scheduled run starts
 * it under its one fixed workflow id, so it never overlaps a run started by
 * hand or by another schedule: it skips, or waits, as `overlap` says.
 */
export async function scheduleSync(client: Client, request: SyncRequest | PreparedSync | PreparedPipeline, options: ScheduleSyncOptions): Promise<ScheduleHandle> {
  const prepared = 'input' in request || 'streams' in request ? request : await preparePipeline(request);
  if (!options.cron && !options.every) throw new ConfigError('A schedule needs --cron <expression> or --every <interval>');
  await ensureSearchAttributes(client);
  const { input, key, memo, what } = scheduledRun(prepared, options.overlap ?? 'skip');
  return client.schedule.create({
    scheduleId: scheduleId(key),
    spec: options.cron ? { cronExpressions: [options.cron] } : { intervals: [{ every: options.every as `${number}${'ms' | 's' | 'm' | 'h' | 'd'}` }] },
    action: {
      type: 'startWorkflow',
      workflowType: BIZON_PIPELINE_WORKFLOW_TYPE,
      workflowId: scheduledLauncherId(key),
      taskQueue: prepared.taskQueue,
      args: [input],
      memo,
      staticSummary: `bizon scheduled sync ${key.name}: ${what}`,
    },
    // A run never overlaps its stream's sync (it skips or waits, as `overlap` says); nor does a tick the last run.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    state: { paused: options.paused ?? false, note: options.note },
    memo: { bizon_pipeline: key.name, bizon_source: key.source.name, bizon_stream: key.source.stream },
  });
}

/** The schedules bizon created. */
export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const schedules: ScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) if (parseScheduleId(schedule.scheduleId)) schedules.push(schedule);
  return schedules;
}

/**
 * Finds a bizon schedule by its id, or by pipeline name when only one
 * schedule has that name.
 */
export async function findSchedule(client: Client, idOrName: string): Promise<ScheduleHandle> {
  if (parseScheduleId(idOrName)) return client.schedule.getHandle(idOrName);
  const matches = (await listSchedules(client)).filter((schedule) => parseScheduleId(schedule.scheduleId)?.name === idOrName);
  if (matches.length === 1) return client.schedule.getHandle(matches[0]!.scheduleId);
  if (matches.length === 0) throw new ConfigError(`No bizon schedule for pipeline '${idOrName}'. \`bizon schedule list\` shows them.`);
  throw new ConfigError(`Several schedules for pipeline '${idOrName}': ${matches.map((schedule) => schedule.scheduleId).join(', ')}. Name one by its id.`);
}

/** Describes a schedule. */
export async function describeSchedule(client: Client, idOrName: string): Promise<ScheduleDescription> {
  return (await findSchedule(client, idOrName)).describe();
}

/** Runs a schedule's action now (it still never overlaps a running sync). */
export async function triggerSchedule(client: Client, idOrName: string): Promise<void> {
  await (await findSchedule(client, idOrName)).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
}

/** Pauses a schedule; `note` is shown with its state (default: "Paused with bizon"). */
export async function pauseSchedule(client: Client, idOrName: string, note?: string): Promise<void> {
  await (await findSchedule(client, idOrName)).pause(note ?? 'Paused with bizon');
}

/** Unpauses a schedule; `note` is shown with its state (default: "Unpaused with bizon"). */
export async function unpauseSchedule(client: Client, idOrName: string, note?: string): Promise<void> {
  await (await findSchedule(client, idOrName)).unpause(note ?? 'Unpaused with bizon');
}

/**
 * How many of the schedule's recent runs skipped because a sync of the
 * pipeline was running (`--overlap skip`): the run ended with every stream `skipped`.
 */
export async function countSkippedRuns(client: Client, description: ScheduleDescription): Promise<number> {
  const outcomes = await Promise.all(
    description.info.recentActions.map(async ({ action }) => {
      const run = client.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId);
      const { status } = await run.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
      if (status.name !== 'COMPLETED') return undefined;
      return ((await run.result()) as PipelineResult).streams.every((stream) => stream.status === 'skipped') ? 'skipped' : 'ran';
    }),
  );
  return outcomes.filter((outcome) => outcome === 'skipped').length;
}

export async function deleteSchedule(client: Client, idOrName: string): Promise<void> {
  await (await findSchedule(client, idOrName)).delete();
}

/** Runs the actions the schedule would have run between `start` and `end`, one after the other. */
export async function backfillSchedule(client: Client, idOrName: string, start: Date, end: Date): Promise<void> {
  await (await findSchedule(client, idOrName)).backfill({ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL });
}
