import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  defineQuery,
  startChild,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import { syncWorkflow } from './sync.ts';
import type { OverlapPolicy, PipelineResult, PipelineStreamInput, PipelineStreamOutcome, PipelineWorkflowInput } from './types.ts';
import type { SyncActivities } from './activity-types.ts';

const { waitForSync } = proxyActivities<SyncActivities>({
  startToCloseTimeout: '30d',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

/** Answers where each stream of a running pipeline stands. */
export const pipelineProgressQuery = defineQuery<PipelineResult>('pipelineProgress');

/** Failure type of a pipeline in which at least one stream failed (the others finished); as in engine/constants.ts. */
export const STREAMS_FAILED = 'StreamsFailed';

/** The message of a child's failure: the error at its root (the page's own), not the wrappers' ("Activity task failed"). */
function failureMessage(error: unknown): string {
  let root = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root instanceof Error ? root.message : String(root);
}

/** Where the streams of a pipeline stand while {@link syncEveryStream} runs them. */
export interface StreamsTracker {
  outcomes: PipelineStreamOutcome[];
  /** Lanes whose first stream has started, been skipped or failed to start. */
  lanesUnderway: number;
  lanes: number;
}

/**
 * Runs each stream's sync as a child under the stream's fixed sync id, at most `maxParallelStreams` at once. When a
 * stream's sync is already running (started by anyone), `overlap` says whether to wait for it and then run, or to
 * skip the stream. Answers the `pipelineProgress` query; fails naming each stream that failed once all have ended.
 */
export async function syncEveryStream(input: PipelineWorkflowInput, overlap: OverlapPolicy, onTracker?: (tracker: StreamsTracker) => void): Promise<PipelineResult> {
  const outcomes: PipelineStreamOutcome[] = input.streams.map((stream) => ({
    stream: stream.stream,
    workflowId: stream.workflowId,
    status: 'waiting',
    result: null,
    error: null,
  }));
  const tracker: StreamsTracker = { outcomes, lanesUnderway: 0, lanes: Math.min(input.maxParallelStreams, input.streams.length) };
  onTracker?.(tracker);
  const progress = (): PipelineResult => ({ name: input.name, source: input.source, streams: outcomes });
  setHandler(pipelineProgressQuery, progress);

  async function syncStream(stream: PipelineStreamInput, outcome: PipelineStreamOutcome, underway: () => void): Promise<void> {
    for (;;) {
      try {
        const child = await startChild(syncWorkflow, {
          workflowId: stream.workflowId,
          args: [stream.sync],
          memo: stream.memo,
          typedSearchAttributes: stream.searchAttributes,
          // A terminated pipeline cancels its syncs, so each records its checkpoint for the next run.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        outcome.status = 'running';
        outcome.runId = child.firstExecutionRunId;
        underway();
        outcome.result = await child.result();
        outcome.status = 'succeeded';
        return;
      } catch (error) {
        if (error instanceof Error && error.name === 'WorkflowExecutionAlreadyStartedError') {
          // The stream's sync was started by someone else (a manual run, a Schedule, another client).
          if (overlap === 'skip') {
            log.info('Skipped: a sync of this stream is already running', { workflowId: stream.workflowId });
            outcome.status = 'skipped';
            underway();
            return;
          }
          log.info('Waiting for the running sync of this stream to finish', { workflowId: stream.workflowId });
          await waitForSync({ workflowId: stream.workflowId });
          continue;
        }
        underway();
        if (isCancellation(error) && !(error instanceof ChildWorkflowFailure)) throw error;
        outcome.status = error instanceof ChildWorkflowFailure && isCancellation(error.cause) ? 'cancelled' : 'failed';
        outcome.error = failureMessage(error);
        return;
      }
    }
  }

  let next = 0;
  const lane = async () => {
    let first = true;
    const underway = () => {
      if (first) tracker.lanesUnderway++;
      first = false;
    };
    while (next < input.streams.length) {
      const index = next++;
      await syncStream(input.streams[index]!, outcomes[index]!, underway);
    }
  };
  await Promise.all(Array.from({ length: tracker.lanes }, lane));

  // Cancelled as a whole (`bizon cancel`): each stream recorded its checkpoint; the pipeline ends cancelled too.
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('The pipeline was cancelled');
  const failed = outcomes.filter((outcome) => outcome.status !== 'succeeded' && outcome.status !== 'skipped');
  if (failed.length > 0) {
    throw ApplicationFailure.create({
      type: STREAMS_FAILED,
      nonRetryable: true,
      message: `${failed.length} of ${outcomes.length} streams did not succeed: ${failed.map((outcome) => `${outcome.stream} (${outcome.status}: ${outcome.error})`).join('; ')}`,
      details: [progress()],
    });
  }
  return progress();
}
