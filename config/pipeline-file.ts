import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.ts';
import { BoundedCache, compileWork } from './compile-work.ts';

const parsed = new BoundedCache<string, { text: string; value: unknown }>(64);

/**
 * A pipeline YAML file as written (not validated): what `bizonPipeline` takes as its `pipeline`. A process parses
 * a file once while its text stays the same (`bizon run` reads it to find its server early, then to prepare it);
 * each caller gets a copy of its own.
 */
export function readPipelineFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${file}: ${(error as Error).message}`);
  }
  const key = path.resolve(file);
  const known = parsed.get(key);
  if (known?.text === text) return structuredClone(known.value);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`Config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  compileWork.pipelineFileParses += 1;
  parsed.set(key, { text, value });
  return structuredClone(value);
}
