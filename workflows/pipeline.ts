import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  defineQuery,
  executeChild,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import { syncWorkflow } from './sync.ts';
import type { OverlapPolicy, PipelineResult, PipelineStreamInput, PipelineStreamOutcome, PipelineWorkflowInput, SyncActivities } from './types.ts';
import { requireInternalInput } from './input-check.ts';

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

/**
 * The sync of every stream of a pipeline with `source.streams`: each stream is
 * the child sync it would be alone (same workflow id, watermark, checkpoint,
 * resume), at most `maxParallelStreams` at once; a stream whose sync already
 * runs on its own is waited for, then run. A stream that fails does not
 * stop the others; once all have ended, the pipeline fails if any stream did,
 * naming each, with every stream's outcome in the failure's details.
 */
export async function pipelineWorkflow(input: PipelineWorkflowInput): Promise<PipelineResult> {
  requireInternalInput('pipelineWorkflow', input, ['streams']);
  return syncEveryStream(input, 'wait');
}

/**
 * Runs each stream's sync as a child under the stream's fixed sync id, at most `maxParallelStreams` at once. When a
 * stream's sync is already running (started by anyone), `overlap` says whether to wait for it and then run, or to
 * skip the stream. Answers the `pipelineProgress` query; fails naming each stream that failed once all have ended.
 */
export async function syncEveryStream(input: PipelineWorkflowInput, overlap: OverlapPolicy): Promise<PipelineResult> {
  const outcomes: PipelineStreamOutcome[] = input.streams.map((stream) => ({
    stream: stream.stream,
    workflowId: stream.workflowId,
    status: 'waiting',
    result: null,
    error: null,
  }));
  const progress = (): PipelineResult => ({ name: input.name, source: input.source, streams: outcomes });
  setHandler(pipelineProgressQuery, progress);

  async function syncStream(stream: PipelineStreamInput, outcome: PipelineStreamOutcome): Promise<void> {
    outcome.status = 'running';
    for (;;) {
      try {
        outcome.result = await executeChild(syncWorkflow, {
          workflowId: stream.workflowId,
          args: [stream.sync],
          memo: stream.memo,
          typedSearchAttributes: stream.searchAttributes,
          // A terminated pipeline cancels its syncs, so each records its checkpoint for the next run.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        outcome.status = 'succeeded';
        return;
      } catch (error) {
        if (error instanceof Error && error.name === 'WorkflowExecutionAlreadyStartedError') {
          // The stream's sync was started on its own (a manual run): the stream runs once it has ended.
          if (overlap === 'skip') {
            log.info('Skipped: a sync of this stream is already running', { workflowId: stream.workflowId });
            outcome.status = 'skipped';
            return;
          }
          log.info('Waiting for the running sync of this stream to finish', { workflowId: stream.workflowId });
          await waitForSync({ workflowId: stream.workflowId });
          continue;
        }
        if (isCancellation(error) && !(error instanceof ChildWorkflowFailure)) throw error;
        outcome.status = error instanceof ChildWorkflowFailure && isCancellation(error.cause) ? 'cancelled' : 'failed';
        outcome.error = failureMessage(error);
        return;
      }
    }
  }

  let next = 0;
  const lane = async () => {
    while (next < input.streams.length) {
      const index = next++;
      await syncStream(input.streams[index]!, outcomes[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.maxParallelStreams, input.streams.length) }, lane));

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
