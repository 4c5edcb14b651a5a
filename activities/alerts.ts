import type { Client } from '@temporalio/client';
import { resolveSecretReferences } from '../config/secrets.ts';
import { NonRetryableError, isRetryableStatus } from '../errors.ts';
import { alertWorkflowId } from '../workflows/alert.ts';
import { PROGRESS_QUERY } from '../engine/constants.ts';
import type { SyncProgress } from '../workflows/types.ts';
import type { AlertInput } from '../workflows/activity-types.ts';
import { redact } from '../sources/redaction.ts';

const TITLES: Record<AlertInput['event'], string> = {
  failed: '✖ bizon sync failed',
  retried: '↻ bizon sync retrying',
  succeeded: '✔ bizon sync succeeded',
};

/** The sync's page in the Web UI, when the worker knows where it is (`BIZON_UI_URL`). */
function webUiLink(input: AlertInput, env: NodeJS.ProcessEnv, namespace: string): string | null {
  const ui = env.BIZON_UI_URL?.replace(/\/$/, '');
  if (!ui) return null;
  return `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(input.workflowId)}/${input.runId}/history`;
}

/** The alert as Slack-compatible JSON: `text` for people, `bizon` for programs. */
export function alertPayload(input: AlertInput, env: NodeJS.ProcessEnv = process.env, namespace = input.pipeline.engine.temporal.namespace ?? 'default'): Record<string, unknown> {
  const { pipeline } = input;
  const link = webUiLink(input, env, namespace);
  const lines = [
    `${TITLES[input.event]}: ${pipeline.name} (${pipeline.source.name}/${pipeline.source.stream})`,
    ...(input.cause ? [input.cause] : []),
    `pages: ${input.pages} · records: ${input.records}`,
    ...(link ? [`<${link}|Open in the Temporal Web UI>`] : []),
  ];
  return {
    text: lines.join('\n'),
    bizon: {
      event: input.event,
      pipeline: pipeline.name,
      source: pipeline.source.name,
      stream: pipeline.source.stream,
      destination: pipeline.destination.name,
      cause: input.cause,
      pages: input.pages,
      records: input.records,
      workflow_id: input.workflowId,
      run_id: input.runId,
      web_ui: link,
    },
  };
}

/** POSTs an alert to the pipeline's webhook; a refusal no retry can change (4xx but 408/429) is final. */
export async function sendAlert(input: AlertInput, env: NodeJS.ProcessEnv = process.env, namespace?: string): Promise<void> {
  const alerting = input.pipeline.alerting;
  if (!alerting) return;
  const url = resolveSecretReferences(alerting.config, env, 'alerting.config').webhook_url;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alertPayload(input, env, namespace)), signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    // The URL is a secret (Slack's webhooks are): never in a message.
    throw new Error(`The alert webhook could not be reached: ${redact(String((error as Error).cause ?? error), [url])}`);
  }
  if (response.ok) return;
  const message = `The alert webhook answered HTTP ${response.status}`;
  throw isRetryableStatus(response.status) ? new Error(message) : new NonRetryableError(`${message}: check alerting.config.webhook_url`);
}

/** Starts the delivery of a `retried` alert for an activity of a sync (once per activity). */
export async function raiseRetriedAlert(client: Client, input: Omit<AlertInput, 'event' | 'pages' | 'records'>, activityId: string, taskQueue: string): Promise<void> {
  // The pages and records done so far, as the sync says them; an alert goes out without them rather than late.
  const progress = await client
    .withDeadline(Date.now() + PROGRESS_WAIT_MS, () => client.workflow.getHandle(input.workflowId, input.runId).query<SyncProgress>(PROGRESS_QUERY))
    .catch(() => undefined);
  const alert: AlertInput = { ...input, event: 'retried', pages: progress?.iteration ?? 0, records: progress?.records ?? 0 };
  await client.workflow.start('alertWorkflow', { workflowId: alertWorkflowId(input.workflowId, input.runId, 'retried', activityId), taskQueue, args: [alert] }).catch(() => undefined);
}

const PROGRESS_WAIT_MS = 3000;
