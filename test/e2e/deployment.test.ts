import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startSync } from '../../client.ts';
import { findTemporalBinary, freePort } from '../../engine/temporal-server.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { cliEnv, PAGE_SOURCE, runBizon, spawnBizon, tempDir, testClient, unique } from '../helpers.ts';

let api: ExampleApi | undefined;
const workers: ChildProcess[] = [];
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await api?.close();
});

/** The Temporal CLI against the suite's server, as an operator rolls out a version. */
function temporal(args: string[]): string {
  return execFileSync(findTemporalBinary()!, [...args, '--address', inject('temporalAddress')], { encoding: 'utf8', stdio: 'pipe' });
}

/**
 * Makes `buildId` the current version of `deployment`, and waits until the server has propagated the change to
 * the task queues (it does so asynchronously): a sync started after this starts on that version.
 */
async function setCurrentVersion(client: Client, deployment: string, buildId: string): Promise<void> {
  temporal(['worker', 'deployment', 'set-current-version', '--deployment-name', deployment, '--build-id', buildId, '--allow-no-pollers', '--yes']);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { workerDeploymentInfo: info } = await client.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName: deployment });
    const current = info?.routingConfig?.currentDeploymentVersion?.buildId;
    // COMPLETED (2), or a server that does not say (UNSPECIFIED, 0).
    if (current === buildId && Number(info?.routingConfigUpdateState ?? 0) !== 1) return;
    if (Date.now() > deadline) throw new Error(`${deployment}: ${buildId} never became current everywhere`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('bizon worker in a fleet', () => {
  it('--deployment-name and --build-id: the worker is a Worker Deployment version; a sync runs on the current version, auto-upgrade, under the worker\'s --identity', async () => {
    api = await startExampleApi({ datasets: { users: 25 } });
    const taskQueue = unique('deployed');
    const deployment = unique('bizon-fleet');
    // The operator makes v1 current before its workers are up (as a rollout script does).
    const operator = await testClient();
    try {
      await setCurrentVersion(operator, deployment, 'v1');
    } finally {
      await operator.connection.close();
    }
    const metricsPort = await freePort();
    const worker = spawnBizon(
      ['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--deployment-name', deployment, '--build-id', 'v1', '--identity', 'fleet-worker-1', '--max-concurrent-pages', '4', '--max-concurrent-workflow-tasks', '3', '--shutdown-grace', '2s', '--metrics-port', String(metricsPort)],
      { env: cliEnv() },
    );
    workers.push(worker);
    const client = await testClient();
    try {
      const started = await startSync(client, {
        config: { name: unique('deployed'), source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 }, destination: { name: 'file', config: { directory: tempDir() } } },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      expect(((await started.handle.result()) as SyncResult).records).toBe(25);
      const { raw } = await started.handle.describe();
      const versioning = raw.workflowExecutionInfo?.versioningInfo;
      expect(versioning?.deploymentVersion).toMatchObject({ deploymentName: deployment, buildId: 'v1' });
      expect(String(versioning?.behavior)).toMatch(/^(2|AUTO_UPGRADE|VERSIONING_BEHAVIOR_AUTO_UPGRADE)$/);
      const { events } = await started.handle.fetchHistory();
      const identities = new Set(events!.map((event) => event.workflowTaskCompletedEventAttributes?.identity ?? event.activityTaskStartedEventAttributes?.identity).filter(Boolean));
      expect(identities).toEqual(new Set(['fleet-worker-1']));
      // The worker's own metrics say what it was given: its slots for pages and for workflow tasks, all free now.
      const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const slots = (type: string) =>
        scrape
          .split('\n')
          .filter((line) => line.startsWith('temporal_worker_task_slots_available{') && line.includes(`worker_type="${type}"`) && line.includes(`task_queue="${taskQueue}"`))
          .map((line) => Number(line.split(' ').at(-1)));
      expect(slots('ActivityWorker')).toEqual([4]);
      expect(slots('WorkflowWorker')).toEqual([3]);
    } finally {
      await client.connection.close();
    }
  });

  it('--versioning-behavior pinned: a running sync finishes on its version after a new one becomes current; the next sync starts on the new one', async () => {
    api ??= await startExampleApi({ datasets: { users: 25 } });
    const taskQueue = unique('pinned');
    const deployment = unique('bizon-pinned');
    const worker = (buildId: string) => {
      const child = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--deployment-name', deployment, '--build-id', buildId, '--identity', `worker-${buildId}`, '--versioning-behavior', 'pinned'], { env: cliEnv() });
      workers.push(child);
      return child;
    };
    const client = await testClient();
    await setCurrentVersion(client, deployment, 'v1');
    worker('v1');
    const page2 = api.hold((request) => request.path === '/users' && request.query.page === '2');
    try {
      const config = (name: string) => ({ name, source: { name: 'my_source', stream: 'users', api_url: api!.url, page_size: 10 }, destination: { name: 'file', config: { directory: tempDir() } } });
      const first = await startSync(client, { config: config(unique('pinned')), customSourceFiles: [PAGE_SOURCE], taskQueue });
      await page2.reached;
      // v2 comes up and becomes current while the first sync is in the middle of its pages (once it polls the
      // task queue: a version may become current only when it serves the queues of the current one).
      worker('v2');
      const deadline = Date.now() + 60_000;
      for (;;) {
        const described = await client.workflowService
          .describeWorkerDeploymentVersion({ namespace: 'default', deploymentVersion: { deploymentName: deployment, buildId: 'v2' } })
          .catch(() => undefined);
        const queues = described?.workerDeploymentVersionInfo?.taskQueueInfos?.map((info) => info.name) ?? [];
        if (queues.includes(taskQueue)) break;
        if (Date.now() > deadline) throw new Error(`version v2 never polled ${taskQueue}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await setCurrentVersion(client, deployment, 'v2');
      page2.release();
      expect(((await first.handle.result()) as SyncResult).records).toBe(25);
      const second = await startSync(client, { config: config(unique('pinned')), customSourceFiles: [PAGE_SOURCE], taskQueue });
      expect(((await second.handle.result()) as SyncResult).records).toBe(25);

      const versionOf = async (handle: typeof first.handle) => {
        const versioning = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
        const { events } = await handle.fetchHistory();
        const identities = new Set(events!.map((event) => event.workflowTaskCompletedEventAttributes?.identity ?? event.activityTaskStartedEventAttributes?.identity).filter(Boolean));
        return { behavior: String(versioning?.behavior), buildId: versioning?.deploymentVersion?.buildId, identities: [...identities] };
      };
      expect(await versionOf(first.handle)).toMatchObject({ behavior: expect.stringMatching(/^(1|PINNED|VERSIONING_BEHAVIOR_PINNED)$/), buildId: 'v1', identities: ['worker-v1'] });
      expect(await versionOf(second.handle)).toMatchObject({ behavior: expect.stringMatching(/^(1|PINNED|VERSIONING_BEHAVIOR_PINNED)$/), buildId: 'v2', identities: ['worker-v2'] });
    } finally {
      page2.release();
      await client.connection.close();
    }
  });

  it('refuses half a version and a behavior it does not know, before connecting', async () => {
    const half = await runBizon(['worker', '--build-id', 'v2'], { env: cliEnv() });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('Worker Versioning needs both --deployment-name and --build-id (or BIZON_DEPLOYMENT_NAME and BIZON_BUILD_ID).');
    const behavior = await runBizon(['worker', '--deployment-name', 'd', '--build-id', 'v2', '--versioning-behavior', 'sticky'], { env: cliEnv() });
    expect(behavior.code).toBe(2);
    expect(behavior.stderr).toContain('--versioning-behavior sticky: use auto-upgrade or pinned.');
  });
});
