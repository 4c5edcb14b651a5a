import { allHandlersFinished, condition, continueAsNew, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RequestPacerInput } from './activity-types.ts';
import { requireInternalInput } from './input-check.ts';

/** Reserves the next moment a `get()` of the paced source may start; answers its epoch ms. */
export const reserveRequestSlotUpdate = defineUpdate<number, [{ requestsPerSecond: number }]>('reserveRequestSlot');

/** Slots lie 10% further apart than the rate says: room for the jitter between a slot and its request reaching the API. */
const SPACING = 1.1;

/** Reservations one run answers before it continues as new. */
const RESERVATIONS_PER_RUN = 1000;

/**
 * Paces one source's `get()` calls across every sync and every worker
 * (`bizon-pace:<source name>`): each page reserves the next free slot, slots
 * lie `1000 / requests_per_second` ms apart (10% more, for jitter), so no
 * second ever holds more than `requests_per_second` calls, whatever runs at once.
 */
export async function requestPacerWorkflow(input: RequestPacerInput): Promise<never> {
  requireInternalInput('requestPacerWorkflow', input, []);
  let nextSlot = input.nextSlot;
  let reservations = 0;
  setHandler(reserveRequestSlotUpdate, ({ requestsPerSecond }) => {
    const slot = Math.max(Date.now(), nextSlot);
    nextSlot = slot + (1000 / requestsPerSecond) * SPACING;
    reservations += 1;
    return slot;
  });
  await condition(() => reservations >= RESERVATIONS_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  return continueAsNew<typeof requestPacerWorkflow>({ ...input, nextSlot });
}
