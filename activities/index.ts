export { createSyncActivities, type SyncActivitiesOptions } from './sync-activities.ts';
export { toApplicationFailure } from './failures.ts';
export { createCompileActivity, INVALID_PIPELINE, type CompileActivityOptions } from './compile.ts';
