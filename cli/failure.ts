import { ActivityFailure, ApplicationFailure, TemporalFailure, WorkflowFailedError } from '@temporalio/client';

/** A failure as a user should read it: the root cause first, then where it happened. */
export interface FailureReport {
  message: string;
  details: string[];
  /** The class of the root cause (`HttpError`, `MalformedIterationError`, `ConfigError`, …), when known. */
  type?: string;
}

const RETRY_STATES: Record<string, string> = {
  NON_RETRYABLE_FAILURE: 'not retried: retrying cannot fix it',
  MAXIMUM_ATTEMPTS_REACHED: 'gave up after api_config.retry_limit attempts',
  TIMEOUT: 'gave up: engine.retry.max_elapsed (the time budget of its attempts) was spent',
  RETRY_POLICY_NOT_SET: 'not retried',
};

/** Walks the cause chain (WorkflowFailedError → ActivityFailure → ApplicationFailure) to the root cause. */
export function describeFailure(error: unknown): FailureReport {
  const details: string[] = [];
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  let type: string | undefined = error instanceof Error && !(error instanceof TemporalFailure) && !(error instanceof WorkflowFailedError) ? error.name : undefined;
  while (current instanceof Error) {
    if (current instanceof ActivityFailure) {
      const budgetSpent = current.cause instanceof ApplicationFailure && current.cause.type === 'RetryBudgetSpent';
      const state = budgetSpent
        ? RETRY_STATES.TIMEOUT
        : current.retryState
          ? RETRY_STATES[current.retryState] ?? current.retryState
          : undefined;
      details.push(`in activity ${current.activityType}${state ? ` (${state})` : ''}`);
    } else if (current instanceof ApplicationFailure) {
      message = current.message;
      if (current.type) {
        details.unshift(`error type: ${current.type}`);
        type = current.type;
      }
    } else if (!(current instanceof WorkflowFailedError) && !(current instanceof TemporalFailure)) {
      message = current.message;
    } else if (current instanceof TemporalFailure && !current.cause) {
      message = current.message;
    }
    current = current.cause;
  }
  return { message, details, ...(type ? { type } : {}) };
}
