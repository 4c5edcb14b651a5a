/**
 * The one piece of state a sync carries from step to step (`SyncRun`), and the activities it calls through it.
 * Deterministic; types only from outside.
 */
import { proxyActivities, proxyLocalActivities, upsertMemo, workflowInfo, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { StreamStateEvent, SyncCheckpoint, SyncMemo, SyncProgress, SyncWorkflowInput } from './types.ts';
import type { ExtractPageInput, ExtractPageResult, PageActivityInput, SyncActivities } from './activity-types.ts';
import { configKey } from './config-key.ts';
import { activityOptions, localActivityOptions, pageSummary, sliceLabel } from './sync-steps.ts';

/** The activities of one sync, with the options its plan sets. */
export interface SyncCalls {
  activities: ActivityInterfaceFor<SyncActivities>;
  /** Options of a page activity (paced pages are never dispatched eagerly: any worker of the fleet may take them). */
  pageOptions: ActivityOptions;
  /** One page, as a regular activity or (`page_activity: local`) a local one, labelled with its page in the UI. */
  extractPage(args: ExtractPageInput): Promise<ExtractPageResult>;
  /** Tells the stream's state workflow how the sync ended (or a discarded checkpoint). */
  recordState(event: StreamStateEvent): Promise<void>;
}

/** A sync run: its input, where it stands (the checkpoint, the same object its memo and query show), and its calls. */
export interface SyncRun {
  readonly input: SyncWorkflowInput;
  readonly calls: SyncCalls;
  /** `configKey(input.pipeline)`: how page activities name the pipeline. */
  readonly configKey: string;
  checkpoint: SyncCheckpoint;
  status: SyncProgress['status'];
  /** Page activities this workflow run has completed: it continues as new after `continue_as_new_every`. */
  activitiesThisRun: number;
}

/** A run of `input`: from its checkpoint when it continued as new, else from page zero. */
export function openRun(input: SyncWorkflowInput): SyncRun {
  const { pipeline, plan } = input;
  const activities = proxyActivities<SyncActivities>(activityOptions(input));
  const pageOptions: ActivityOptions = plan.rateLimit ? { ...activityOptions(input), allowEagerDispatch: false } : activityOptions(input);
  const localPages = plan.localPages ? proxyLocalActivities<Pick<SyncActivities, 'extractPage'>>(localActivityOptions(input)) : undefined;
  const calls: SyncCalls = {
    activities,
    pageOptions,
    extractPage(args) {
      const summary = pageSummary(args.iteration, args.pagination, args.iteration, args.slice && sliceLabel(args.slice));
      if (localPages) return localPages.extractPage.executeWithOptions({ ...localActivityOptions(input), summary }, [args]);
      return activities.extractPage.executeWithOptions({ ...pageOptions, summary }, [args]);
    },
    // While the sync runs its checkpoints stay in its own memo: a state-workflow task per checkpoint would cost the
    // server more than the pages between them.
    recordState: async (event) => {
      await activities.recordStreamState({ streamState: plan.streamState, event, destination: pipeline.destination.name });
    },
  };
  const checkpoint: SyncCheckpoint = input.checkpoint ?? {
    syncRunId: workflowInfo().runId,
    startedAt: new Date().toISOString(),
    iteration: 0,
    pagination: null,
    done: false,
    records: 0,
    total: null,
    runs: 1,
    incrementalState: null,
    maxCursorValue: null,
    resumedFrom: null,
  };
  return { input, calls, configKey: configKey(pipeline), checkpoint, status: input.checkpoint ? 'extracting' : 'preparing', activitiesThisRun: 0 };
}

/** What every activity of the sync is given: the stream's config and the sync it belongs to. */
export function activityInput(run: SyncRun): { pipeline: SyncWorkflowInput['pipeline']; syncRunId: string } {
  return { pipeline: run.input.pipeline, syncRunId: run.checkpoint.syncRunId };
}

/** What every page activity is given: the sync, and its pipeline by key (a local page, kept out of history, whole). */
export function pageInput(run: SyncRun): PageActivityInput {
  const { pipeline, plan } = run.input;
  return { syncRunId: run.checkpoint.syncRunId, configKey: run.configKey, ...(plan.localPages ? { pipeline } : {}) };
}

/** Stores where the sync stands in its memo, for the next run to resume from. */
export function saveCheckpoint(run: SyncRun): void {
  upsertMemo({ checkpoint: run.checkpoint } satisfies Partial<SyncMemo>);
}
