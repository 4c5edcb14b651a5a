/** Part of `npm run build`: the workflow bundles the package ships, so an installed worker never runs webpack. */
import path from 'node:path';
import { PACKAGE_ROOT } from '../engine/package-root.ts';
import { PREBUILT_DIR, prebuildWorkflowBundles } from '../engine/workflow-bundle.ts';

const started = Date.now();
const files = await prebuildWorkflowBundles();
process.stderr.write(`${files.length} workflow bundles in ${path.relative(PACKAGE_ROOT, PREBUILT_DIR)} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
