// The bare-Temporal references of bench/fleet.ts: the cursor as workflow state, one activity per page that GETs
// the page and appends its records to a file, nothing else — as a regular activity, or as a local one.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface BarePagesInput {
  url: string;
  pageSize: number;
  file: string;
}
type FetchPage = (input: BarePagesInput, page: number) => Promise<number | null>;

// bizon-temporal's default timeouts (engine.page_timeout, engine.heartbeat_timeout): the server keeps the same timers.
const regular = proxyActivities<{ fetchPage: FetchPage }>({ startToCloseTimeout: '10m', heartbeatTimeout: '10s' });
const local = proxyLocalActivities<{ fetchPage: FetchPage }>({ startToCloseTimeout: '10m' });

async function pages(fetchPage: FetchPage, input: BarePagesInput): Promise<number> {
  let count = 0;
  for (let page: number | null = 1; page !== null; count++) page = await fetchPage(input, page);
  return count;
}

export async function barePagesWorkflow(input: BarePagesInput): Promise<number> {
  return pages(regular.fetchPage, input);
}

export async function bareLocalPagesWorkflow(input: BarePagesInput): Promise<number> {
  return pages(local.fetchPage, input);
}
