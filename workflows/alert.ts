import { proxyActivities } from '@temporalio/workflow';
import type { AlertInput, SyncActivities } from './activity-types.ts';
import { requireInternalInput } from './input-check.ts';

/** The id of the workflow that delivers one alert: once per sync run and event (per activity, for retries). */
export function alertWorkflowId(syncWorkflowId: string, runId: string, event: AlertInput['event'], activityId?: string): string {
  return `bizon-alert:${syncWorkflowId}:${runId}:${event}${activityId ? `:${activityId}` : ''}`;
}

/**
 * Delivers one alert (`alerting` of a pipeline) by its own activity and retry
 * policy, apart from the sync: started with an abandon policy, so a webhook
 * that is down neither fails nor slows the sync that raised it.
 */
export async function alertWorkflow(input: AlertInput): Promise<void> {
  requireInternalInput('alertWorkflow', input, ['pipeline']);
  const { sendAlert } = proxyActivities<Pick<SyncActivities, 'sendAlert'>>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 20, nonRetryableErrorTypes: ['NonRetryableError'] },
  });
  await sendAlert(input);
}
