import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { REQUEST_PACER_WORKFLOW_TYPE } from '../engine/constants.ts';
import { requestPacerWorkflowId } from '../engine/ids.ts';
import { reserveRequestSlotUpdate } from '../workflows/pacer.ts';
import type { ExtractPageInput, RequestPacerInput } from '../workflows/activity-types.ts';

/** A slot this late when it arrives is given back for a new one: used late, it would crowd the next slot's request. */
const LATE_SLOT_MS = 20;

/**
 * Asks the source's pacer for the moment this `get()` may start (epoch ms),
 * starting the pacer if it does not run yet.
 */
export async function reserveRequestSlot(client: Client, sourceName: string, pacer: NonNullable<ExtractPageInput['pacer']>): Promise<number> {
  const workflowId = requestPacerWorkflowId(pacer.taskQueue, sourceName);
  const reserve = () => client.workflow.getHandle(workflowId).executeUpdate(reserveRequestSlotUpdate, { args: [{ requestsPerSecond: pacer.requestsPerSecond }] });
  const reserveInTime = async (): Promise<number> => {
    for (;;) {
      const slot = await reserve();
      if (Date.now() - slot <= LATE_SLOT_MS) return slot;
    }
  };
  try {
    return await reserveInTime();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    await client.workflow.start(REQUEST_PACER_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: pacer.taskQueue,
      args: [{ nextSlot: 0 } satisfies RequestPacerInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `bizon request pacer of ${sourceName}: ${pacer.requestsPerSecond} get() per second`,
    });
    return reserveInTime();
  }
}
