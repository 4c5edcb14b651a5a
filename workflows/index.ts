export { syncWorkflow, progressQuery } from './sync.ts';
