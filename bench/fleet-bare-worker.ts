/** A worker of the bare references (bench/fleet-bare-workflows.ts): `tsx bench/fleet-bare-worker.ts <address> <task queue>`. */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { BarePagesInput } from './fleet-bare-workflows.ts';

const [address, taskQueue] = process.argv.slice(2) as [string, string];
Runtime.install({ logger: new DefaultLogger('ERROR') });
const worker = await Worker.create({
  connection: await NativeConnection.connect({ address }),
  taskQueue,
  workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet-bare-workflows.ts'),
  activities: {
    async fetchPage(input: BarePagesInput, page: number): Promise<number | null> {
      const { data } = await axios.get<{ items: unknown[] }>(`${input.url}/users`, { params: { page, limit: input.pageSize } });
      await appendFile(input.file, data.items.map((item) => `${JSON.stringify(item)}\n`).join(''));
      return data.items.length === input.pageSize ? page + 1 : null;
    },
  },
});
process.once('SIGTERM', () => worker.shutdown());
process.stderr.write('ready\n');
await worker.run();
