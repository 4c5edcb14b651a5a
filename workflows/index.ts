export { syncWorkflow, progressQuery } from './sync.ts';
export { streamStateWorkflow, recordStreamStateSignal, readStreamStateUpdate, streamStateQuery } from './state.ts';
export { requestPacerWorkflow, reserveRequestSlotUpdate } from './pacer.ts';
export { pipelineProgressQuery } from './pipeline.ts';
export { alertWorkflow } from './alert.ts';
export { bizonPipeline, streamsStartedUpdate } from './bizon-pipeline.ts';
