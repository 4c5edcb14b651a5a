import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startSync } from '../../client.ts';
import { findTemporalBinary } from '../../engine/temporal-server.ts';
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

describe('bizon worker in a fleet', () => {
  it('--deployment-name and --build-id: the worker is a Worker Deployment version; a sync runs on the current version, auto-upgrade, under the worker\'s --identity', async () => {
    api = await startExampleApi({ datasets: { users: 25 } });
    const taskQueue = unique('deployed');
    const deployment = unique('bizon-fleet');
    // The operator makes v1 current before its workers are up (as a rollout script does).
    temporal(['worker', 'deployment', 'set-current-version', '--deployment-name', deployment, '--build-id', 'v1', '--allow-no-pollers', '--yes']);
    const worker = spawnBizon(
      ['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--deployment-name', deployment, '--build-id', 'v1', '--identity', 'fleet-worker-1', '--max-concurrent-pages', '4', '--shutdown-grace', '2s'],
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
    } finally {
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
