/**
 * One worker start in a fresh process, as `bizon run` and `bizon worker` do it: prints the seconds from before
 * the workflow code is loaded until the worker is created. `npx tsx bench/worker-start.ts <address> <how> [file]`,
 * how = prebuilt (the bundle dist/ ships) | bundle (webpack over workflows/*.ts, written to file) | cached (file).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { PREBUILT_DIR, workflowBundle } from '../engine/workflow-bundle.ts';

const [address, how, file] = process.argv.slice(2) as [string, 'prebuilt' | 'bundle' | 'cached', string];
const connection = await NativeConnection.connect({ address });
const started = performance.now();
let bundle: { code: string } | { codePath: string };
if (how === 'prebuilt') {
  bundle = await workflowBundle();
  if (!('codePath' in bundle) || !bundle.codePath.startsWith(PREBUILT_DIR)) throw new Error('no prebuilt workflow bundle matches workflows/: run npm run build first');
} else if (how === 'bundle') {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const noop = () => undefined;
  const workflowsPath = path.join(fileURLToPath(new URL('..', import.meta.url)), 'workflows', 'index.ts');
  bundle = await bundleWorkflowCode({ workflowsPath, logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } });
  writeFileSync(file, bundle.code);
} else {
  bundle = { code: readFileSync(file, 'utf8') };
}
const worker = await Worker.create({ connection, taskQueue: `bench-start-${process.pid}`, workflowBundle: bundle, activities: {} });
process.stdout.write(`${((performance.now() - started) / 1000).toFixed(3)}\n`);
const running = worker.run();
worker.shutdown();
await running;
await connection.close();
