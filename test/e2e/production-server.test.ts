import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ApiHold, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { startProductionTemporal, type ProductionTemporal } from '../production-temporal.ts';
import { startSecuredTemporal, makeCertificates, type SecuredTemporal } from '../secured-temporal.ts';
import { PAGE_SOURCE, readRows, runBizon, spawnWorker, tempDir, unique, waitForPage, writeConfig } from '../helpers.ts';

// The real Temporal server as production runs it (Postgres persistence, SQL visibility, 4 history shards), not the
// dev server: it applies a new search attribute mapping seconds after accepting it, and a new namespace likewise.
let server: ProductionTemporal;
let api: ExampleApi;
const children: ChildProcess[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  [server, api] = await Promise.all([startProductionTemporal(), startExampleApi({ datasets: { users: 300 }, latencyMs: 5 })]);
}, 180_000);
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const client of clients) await client.connection.close();
  await api?.close();
  await server?.stop();
});

// No Temporal CLI profile of the machine's user: only what the test sets.
const emptyProfileFile = path.join(tempDir(), 'temporal.toml');
writeFileSync(emptyProfileFile, '');

/** The environment of a machine whose Temporal is that server, in `namespace`. */
function serverEnv(namespace: string, address = server.address): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_') && !key.startsWith('BIZON_')));
  return { ...env, NO_COLOR: '1', TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, TEMPORAL_CONFIG_FILE: emptyProfileFile };
}

async function clientOf(namespace: string): Promise<Client> {
  const client = new Client({ connection: await Connection.connect({ address: server.address }), namespace });
  clients.push(client);
  return client;
}

function pipeline(dir: string, name: string, extra: Record<string, unknown> = {}) {
  return writeConfig(dir, {
    name,
    source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
    destination: { name: 'file', config: { directory: dir } },
    ...extra,
  });
}

const ids = (dir: string) => readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));

describe('a production-shaped Temporal server (Postgres, SQL visibility, 4 shards)', () => {
  it('the first bizon run in a fresh namespace registers the search attributes, waits for them, and syncs', async () => {
    const namespace = unique('fresh');
    await server.createNamespace(namespace);
    const dir = tempDir();
    const name = unique('first');
    const result = await runBizon(['run', pipeline(dir, name), '--custom-source', PAGE_SOURCE], { cwd: dir, env: serverEnv(namespace) });
    expect(result.stderr).not.toContain('Error');
    expect(result.stderr).toContain('300 records');
    expect(result.code).toBe(0);
    expect(new Set(ids(dir)).size).toBe(300);
    // The run is found by its search attribute, as the Web UI's filter and `bizon status` find it.
    const client = await clientOf(namespace);
    const found = [];
    for await (const run of client.workflow.list({ query: `BizonPipeline = '${name}'` })) found.push(run.workflowId);
    // The run bizon run started (bizonPipeline) and its sync, both filterable by the pipeline.
    expect(found.sort()).toEqual([`bizon-pipeline:${name}:my_source:users`, `bizon-sync:${name}:my_source:users`]);
    const status = await runBizon(['status', pipeline(dir, name)], { cwd: dir, env: serverEnv(namespace) });
    expect(status.stdout).toContain('completed');
    expect(status.code).toBe(0);
  });

  it('a worker SIGKILLed mid-sync: a new worker finishes it, every record exactly once', async () => {
    const namespace = unique('kill');
    await server.createNamespace(namespace);
    const client = await clientOf(namespace);
    const taskQueue = unique('kill');
    const dir = tempDir();
    let held: ApiHold | undefined;
    try {
      children.push(spawnWorker(taskQueue, { env: serverEnv(namespace) }));
      held = api.hold((request) => request.path === '/users' && Number(request.query.page) === 17);
      const sync = await startSync(client, {
        config: {
          name: unique('kill'),
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
          destination: { name: 'file', config: { directory: dir } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' }, continue_as_new_every: 12 },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      await waitForPage(client, sync.workflowId, 16);
      children.at(-1)!.kill('SIGKILL');
      held.release();
      children.push(spawnWorker(taskQueue, { env: serverEnv(namespace) }));
      const result = (await sync.handle.result()) as SyncResult;
      expect(result.records).toBe(300);
      expect(ids(dir)).toHaveLength(300);
      expect(new Set(ids(dir)).size).toBe(300);
    } finally {
      held?.release();
    }
  });

  it('a schedule triggered in a fresh namespace runs its sync', async () => {
    const namespace = unique('schedule');
    await server.createNamespace(namespace);
    const client = await clientOf(namespace);
    const dir = tempDir();
    const name = unique('scheduled');
    const taskQueue = unique('scheduled');
    const config = pipeline(dir, name, { engine: { temporal: { task_queue: taskQueue } } });
    children.push(spawnWorker(taskQueue, { env: serverEnv(namespace) }));
    const created = await runBizon(['schedule', 'create', config, '--every', '1h', '--paused', '--custom-source', PAGE_SOURCE], { cwd: dir, env: serverEnv(namespace) });
    const id = `bizon-schedule:${name}:my_source:users`;
    expect(created.stderr).not.toContain('Error');
    expect(created.stdout).toContain(`Created schedule ${id} (every 1h, overlap: skip)`);
    expect(created.code).toBe(0);
    expect((await runBizon(['schedule', 'trigger', id], { cwd: dir, env: serverEnv(namespace) })).code).toBe(0);
    const syncId = `bizon-sync:${name}:my_source:users`;
    await waitForPage(client, syncId, 1);
    await client.workflow.getHandle(syncId).result();
    expect(new Set(ids(dir)).size).toBe(300);
    expect((await runBizon(['schedule', 'delete', id], { cwd: dir, env: serverEnv(namespace) })).code).toBe(0);
  });

  it('a caller that may not register search attributes is told the command an operator runs', async () => {
    const namespace = unique('denied');
    await server.createNamespace(namespace);
    const certificates = makeCertificates('denying-ca');
    // A cluster whose authorizer lets this caller start workflows but not change the namespace's attributes.
    const front: SecuredTemporal = await startSecuredTemporal({ upstream: server.address, certificates, deny: ['/temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes'] });
    try {
      const dir = tempDir();
      const env = { ...serverEnv(namespace, front.address), TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.caCert };
      const result = await runBizon(['run', pipeline(dir, unique('denied')), '--custom-source', PAGE_SOURCE], { cwd: dir, env });
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('Error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`to namespace "${namespace}"`);
      expect(errors[0]).toContain(`temporal operator search-attribute create --namespace ${namespace} --name BizonPipeline --type Keyword --name BizonSource --type Keyword --name BizonStream --type Keyword`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.code).toBe(2);
      // Once an operator ran it, the same command syncs.
      const client = await clientOf(namespace);
      await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { BizonPipeline: 2, BizonSource: 2, BizonStream: 2 } });
      const again = await runBizon(['run', pipeline(dir, unique('denied')), '--custom-source', PAGE_SOURCE], { cwd: dir, env });
      expect(again.stderr).toContain('300 records');
      expect(again.code).toBe(0);
    } finally {
      await front.close();
    }
  });
});
