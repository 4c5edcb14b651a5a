// The bare-Temporal baseline of bench/overhead.ts: one activity per page, nothing else.
import { proxyActivities } from '@temporalio/workflow';

const { fetchPage } = proxyActivities<{ fetchPage(pagination: Record<string, unknown> | null): Promise<Record<string, unknown> | null> }>({
  startToCloseTimeout: '1m',
});

export async function barePagesWorkflow(): Promise<number> {
  let pages = 0;
  let pagination: Record<string, unknown> | null = null;
  do {
    pagination = await fetchPage(pagination);
    pages++;
  } while (pagination);
  return pages;
}
