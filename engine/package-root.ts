import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  // The same answer from the TypeScript sources and from the compiled `dist/`: the folder of bizon-temporal's package.json.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'bizon-temporal') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`bizon-temporal's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * The root of the bizon-temporal package. Files that are loaded by path, not
 * imported (the workflow sources for the bundler, the failure converter, the
 * SDK entry that custom sources import), are found from here.
 */
export const PACKAGE_ROOT = findPackageRoot();
