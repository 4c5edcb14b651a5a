import { ApplicationFailure } from '@temporalio/workflow';

/** Failure type of a workflow started with an input it cannot run: it fails at once instead of retrying its task. */
export const INVALID_INPUT = 'InvalidWorkflowInput';

/** Whether `value` is a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Fails the workflow (not its task, which Temporal would retry forever) unless its input has the `fields` objects
 * bizon's own client computes. Any Temporal client may start any registered type: the message points it at the
 * one made for it, `bizonPipeline`.
 */
export function requireInternalInput(workflowType: string, input: unknown, fields: readonly string[]): void {
  const missing = isObject(input) ? fields.filter((field) => !isObject(input[field]) && !Array.isArray(input[field])) : fields;
  if (missing.length === 0) return;
  throw ApplicationFailure.create({
    type: INVALID_INPUT,
    nonRetryable: true,
    message:
      `${workflowType} was started with an input it cannot run (${isObject(input) ? `no ${missing.join(', ')}` : 'not a JSON object'}): its input is computed by bizon's own client. ` +
      `To start a sync from any Temporal client, start the workflow type bizonPipeline with {"pipeline": <the pipeline file as JSON>} (docs/any-client.md)`,
  });
}
