export { syncWorkflow, progressQuery } from './sync.ts';
export { scheduledSyncWorkflow } from './scheduled.ts';
