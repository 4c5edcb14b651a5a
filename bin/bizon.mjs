#!/usr/bin/env node
// Runs the TypeScript CLI directly: no build step between a clone and `bizon`.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
