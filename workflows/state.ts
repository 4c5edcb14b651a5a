import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, defineUpdate, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { StreamState, StreamStateEvent, StreamStateInput, StreamStateMemo } from './types.ts';
import { requireInternalInput } from './input-check.ts';
import { mergePartitions } from './partitions.ts';

/** Records what a sync of the stream did: a checkpoint while it runs or when it fails, its watermark when it succeeds. */
export const recordStreamStateSignal = defineSignal<[StreamStateEvent]>('recordStreamState');
/**
 * Reads the stream's state after every event recorded before it (strongly consistent, unlike visibility). A sync
 * that starts passes its run id: the state then remembers it runs until it records how it ended.
 */
export const readStreamStateUpdate = defineUpdate<StreamState, [startingSyncRunId: string | null]>('readStreamState');
/** The stream's state, for a look in the Web UI or `bizon status`. */
export const streamStateQuery = defineQuery<StreamState>('streamState');

/** Events handled by one run before it continues as new (its history stays small). */
const EVENTS_PER_RUN = 500;

/** Applies one recorded event to the state. */
export function applyStreamStateEvent(state: StreamState, event: StreamStateEvent): StreamState {
  switch (event.kind) {
    case 'checkpoint':
      return {
        ...state,
        checkpoint: event.checkpoint,
        checkpointStatus: event.status,
        updatedAt: event.at,
        runningSyncRunId: event.status === 'running' ? (state.runningSyncRunId ?? null) : null,
      };
    case 'succeeded': {
      // A success supersedes every checkpoint: the next sync starts from this watermark.
      const partitions = event.partitions ? mergePartitions(state.partitions, event.partitions.keys, event.watermark.lastRun, event.partitions.replace) : state.partitions;
      return { ...state, watermark: event.watermark, checkpoint: null, checkpointStatus: null, updatedAt: event.at, runningSyncRunId: null, ...(partitions ? { partitions } : {}) };
    }
    case 'discarded':
      return state.checkpoint?.syncRunId === event.syncRunId ? { ...state, checkpoint: null, checkpointStatus: null, updatedAt: event.at } : state;
    case 'reset':
      return { watermark: null, checkpoint: null, checkpointStatus: null, updatedAt: event.at, runningSyncRunId: null };
  }
}

function memoOf(input: StreamStateInput, state: StreamState): StreamStateMemo {
  return {
    bizon_pipeline: input.key.name,
    bizon_source: input.key.source,
    bizon_stream: input.key.stream,
    last_run: state.watermark?.lastRun ?? null,
    max_cursor_value: state.watermark?.maxCursorValue ?? null,
    records: state.watermark?.records ?? null,
    pages: state.watermark?.pages ?? null,
    checkpoint: state.checkpoint,
    checkpoint_status: state.checkpointStatus,
    next_state: state.watermark?.nextState ?? null,
    running_sync_run_id: state.runningSyncRunId ?? null,
    partitions: state.partitions ?? null,
  };
}

/**
 * The durable state of one pipeline stream (`bizon-state:<name>:<source>:<stream>`):
 * the watermark of its last successful sync and the checkpoint of a sync that
 * has not succeeded. It never closes, so Temporal's retention, which deletes
 * closed runs, never deletes it; it continues as new to keep its history
 * small. Its memo shows the state in the Web UI.
 */
export async function streamStateWorkflow(input: StreamStateInput): Promise<never> {
  requireInternalInput('streamStateWorkflow', input, ['key', 'state']);
  let state = input.state;
  let events = 0;
  setHandler(recordStreamStateSignal, (event) => {
    state = applyStreamStateEvent(state, event);
    events += 1;
    upsertMemo({ ...memoOf(input, state) });
  });
  setHandler(readStreamStateUpdate, (startingSyncRunId) => {
    const read = state;
    // Reads recorded before syncs said who starts carry no argument.
    if (startingSyncRunId && startingSyncRunId !== state.runningSyncRunId) {
      state = { ...state, runningSyncRunId: startingSyncRunId };
      upsertMemo({ ...memoOf(input, state) });
    }
    return read;
  });
  setHandler(streamStateQuery, () => state);
  upsertMemo({ ...memoOf(input, state) });

  await condition(() => events >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  return continueAsNew<typeof streamStateWorkflow>({ ...input, state });
}
