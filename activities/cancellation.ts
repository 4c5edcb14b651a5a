import { Context } from '@temporalio/activity';
import type { AxiosInstance } from 'axios';

const HOOKED = Symbol.for('bizon-temporal.session.abortsOnCancel');

/**
 * Makes every request of `session` made inside an activity abort when that
 * activity is cancelled (sync cancelled, worker shutting down, heartbeat
 * timeout), so a slow API never holds a cancelled page until its timeout.
 * A request that already carries its own `signal` keeps it.
 */
export function abortRequestsOnCancel(session: AxiosInstance): void {
  const marked = session as unknown as Record<symbol, boolean>;
  if (marked[HOOKED]) return;
  marked[HOOKED] = true;
  session.interceptors.request.use((request) => {
    if (!request.signal) request.signal = currentCancellationSignal();
    return request;
  });
}

function currentCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // not inside an activity (a source used on its own)
  }
}
