export { syncWorkflow, progressQuery } from './sync.ts';
export { scheduledSyncWorkflow } from './scheduled.ts';
export { streamStateWorkflow, recordStreamStateSignal, readStreamStateUpdate, streamStateQuery } from './state.ts';
export { requestPacerWorkflow, reserveRequestSlotUpdate } from './pacer.ts';
export { pipelineWorkflow, pipelineProgressQuery } from './pipeline.ts';
export { alertWorkflow } from './alert.ts';
export { bizonPipeline } from './bizon-pipeline.ts';
