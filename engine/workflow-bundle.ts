import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ENCRYPTED_FAILURES_CONVERTER } from './codec.ts';
import { PACKAGE_ROOT } from './package-root.ts';
import { workflowTracingModule } from './tracing.ts';

const WORKFLOWS_DIR = path.join(PACKAGE_ROOT, 'workflows');
/** Where `npm run build` (and so `npm pack`) puts the bundles the package ships. */
export const PREBUILT_DIR = path.join(PACKAGE_ROOT, 'dist', 'workflow-bundles');
const MANIFEST = path.join(PREBUILT_DIR, 'manifest.json');

/**
 * What a worker's workflow code is built with besides `workflows/`: a failure converter (the codec's, which
 * encrypts failures, when `BIZON_CODEC_KEY` is set; or a data converter's of the program's own) and workflow spans
 * (tracing on). The four variants of bizon's own converter or none, traced or not, are prebuilt.
 */
export interface BundleVariant {
  failureConverterPath?: string;
  traced?: boolean;
}

const VARIANTS: readonly BundleVariant[] = [
  {},
  { failureConverterPath: ENCRYPTED_FAILURES_CONVERTER },
  { traced: true },
  { failureConverterPath: ENCRYPTED_FAILURES_CONVERTER, traced: true },
];

/**
 * bizon-temporal's cache of this user: `BIZON_CACHE_DIR`, else `$XDG_CACHE_HOME/bizon-temporal`, else
 * `~/.cache/bizon-temporal`. Nothing is ever written inside the installed package, which may be read-only.
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BIZON_CACHE_DIR) return path.resolve(env.BIZON_CACHE_DIR);
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'bizon-temporal');
}

function sdkVersion(): string {
  return (createRequire(import.meta.url)('@temporalio/workflow/package.json') as { version: string }).version;
}

function variantName(variant: BundleVariant): string {
  const failures = !variant.failureConverterPath ? 'plain' : variant.failureConverterPath === ENCRYPTED_FAILURES_CONVERTER ? 'encrypted' : 'custom';
  return `${failures}-${variant.traced ? 'traced' : 'untraced'}`;
}

/** Names the code a bundle is made of: the workflow sources, the SDK's version and the variant. */
function bundleKey(variant: BundleVariant): string {
  const hash = createHash('sha256').update(sdkVersion()).update(variantName(variant));
  if (variant.failureConverterPath) hash.update(readFileSync(variant.failureConverterPath));
  for (const file of readdirSync(WORKFLOWS_DIR).sort()) hash.update(file).update(readFileSync(path.join(WORKFLOWS_DIR, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * In a checkout the workflows are bundled from their TypeScript; in an installed package from the compiled
 * JavaScript in `dist/`, since the SDK's webpack does not transpile TypeScript under node_modules.
 */
function workflowsEntry(): string {
  const compiled = path.join(PACKAGE_ROOT, 'dist', 'workflows', 'index.js');
  const installed = PACKAGE_ROOT.split(path.sep).includes('node_modules');
  return installed && existsSync(compiled) ? compiled : path.join(WORKFLOWS_DIR, 'index.ts');
}

async function bundle(variant: BundleVariant, workflowsPath = workflowsEntry()): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    failureConverterPath: variant.failureConverterPath,
    workflowInterceptorModules: variant.traced ? [workflowTracingModule()] : [],
    logger: quietLogger,
  });
  return code;
}

function writeAtomically(file: string, code: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, code);
  renameSync(temporary, file);
}

function prebuilt(key: string): string | undefined {
  if (!existsSync(MANIFEST)) return undefined;
  const file = (JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>)[key];
  return file && existsSync(path.join(PREBUILT_DIR, file)) ? path.join(PREBUILT_DIR, file) : undefined;
}

/**
 * The workflow code a worker runs: the bundle the package ships (`dist/workflow-bundles/`) when it was built from
 * these very workflow sources and SDK version — a worker then starts without webpack; otherwise (a source edited
 * in a checkout, another SDK version installed) a bundle made once and kept in {@link userCacheDir}.
 */
export async function workflowBundle(variant: BundleVariant = {}, env: NodeJS.ProcessEnv = process.env): Promise<{ codePath: string } | { code: string }> {
  const key = bundleKey(variant);
  const shipped = prebuilt(key);
  if (shipped) return { codePath: shipped };
  const cached = path.join(userCacheDir(env), `workflows-${key}.js`);
  if (existsSync(cached)) return { codePath: cached };
  const code = await bundle(variant);
  try {
    writeAtomically(cached, code);
  } catch {
    // A cache that cannot be written only costs the next worker the same seconds of bundling.
  }
  return { code };
}

/** Builds every variant into {@link PREBUILT_DIR} with its manifest (part of `npm run build`). */
export async function prebuildWorkflowBundles(): Promise<string[]> {
  const manifest: Record<string, string> = {};
  for (const variant of VARIANTS) {
    const file = `workflows-${variantName(variant)}.js`;
    writeAtomically(path.join(PREBUILT_DIR, file), await bundle(variant, path.join(WORKFLOWS_DIR, 'index.ts')));
    manifest[bundleKey(variant)] = file;
  }
  writeAtomically(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  return Object.values(manifest);
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
