export { createSyncActivities, type SyncActivitiesOptions } from './sync-activities.ts';
export { toApplicationFailure } from './failures.ts';
