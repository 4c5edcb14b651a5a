import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PACKAGE_ROOT } from './package-root.ts';

const WORKFLOWS_DIR = path.join(PACKAGE_ROOT, 'workflows');
const CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'bizon-temporal');

function sdkVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@temporalio/workflow/package.json') as { version: string }).version;
}

/**
 * The webpack bundle of `workflows/` (with the failure converter and workflow interceptors, if any),
 * built once per content of that folder and SDK version and cached on disk: bundling takes seconds, and `bizon run`
 * starts a worker every time.
 */
export async function workflowBundle(options: { failureConverterPath?: string; interceptorModules?: readonly string[] } = {}): Promise<{ code: string }> {
  const interceptorModules = [...(options.interceptorModules ?? [])];
  const hash = createHash('sha256').update(sdkVersion()).update(options.failureConverterPath ?? '').update(interceptorModules.join('\n'));
  for (const file of readdirSync(WORKFLOWS_DIR).sort()) hash.update(file).update(readFileSync(path.join(WORKFLOWS_DIR, file)));
  const cached = path.join(CACHE_DIR, `workflows-${hash.digest('hex').slice(0, 16)}.js`);
  if (existsSync(cached)) return { code: readFileSync(cached, 'utf8') };
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(WORKFLOWS_DIR, 'index.ts'),
    failureConverterPath: options.failureConverterPath,
    workflowInterceptorModules: interceptorModules,
    logger: quietLogger,
  });
  mkdirSync(CACHE_DIR, { recursive: true });
  const temporary = `${cached}.${process.pid}.tmp`;
  writeFileSync(temporary, code);
  renameSync(temporary, cached);
  return { code };
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
