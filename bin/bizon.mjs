#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run setup` and when the package is packed) when it is at least as
// new as every TypeScript source of the package; otherwise the sources themselves through tsx, so an edit
// never needs a build step. Compiled, a command starts without transpiling anything.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = path.join(root, 'dist', 'cli.js');
const NOT_SOURCES = new Set(['node_modules', 'dist', 'test', 'examples', 'bench', 'docs', 'scripts', 'bin']);

/** The newest modification time of the package's own .ts files. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || NOT_SOURCES.has(entry.name)) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

// An installed package (under node_modules) always runs its compiled code: nobody edits it, and the TypeScript
// there would not be transpiled the same way.
const installed = root.split(path.sep).includes('node_modules');
if (existsSync(compiled) && (installed || statSync(compiled).mtimeMs >= newestSource(root))) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli.ts');
}
