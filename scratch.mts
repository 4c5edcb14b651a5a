import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startSync } from './client.ts';
import { createWorker } from './worker.ts';
import { startExampleApi } from './examples/api/server.ts';
Runtime.install({ logger: new DefaultLogger('WARN') });
const address = '127.0.0.1:17233';
const api = await startExampleApi();
const worker = await createWorker({ address, taskQueue: 'scratch', customSourceFiles: ['examples/rest-api/source.ts'] });
const running = worker.run();
const client = new Client({ connection: await Connection.connect({ address }) });
try {
  const started = await startSync(client, { config: { name: 'scratch-' + Date.now(), source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50 }, destination: { name: 'duckdb', config: { path: '/tmp/trial/s.duckdb' } } }, customSourceFiles: ['examples/rest-api/source.ts'], taskQueue: 'scratch' });
  console.log('started', started.workflowId, started.runId);
  console.log(await started.handle.result());
} catch (e) { console.log('ERR', e); }
worker.shutdown(); await running; await api.close(); await client.connection.close();
