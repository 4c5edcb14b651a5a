import path from 'node:path';
import { isDestinationDefinition, registerDestination } from '../destinations/index.ts';
import { ConfigError } from '../errors.ts';
import { checkCustomSources, customSourcesOf, importCustomFile, type CustomSource } from '../sources/registry.ts';

const loaded = new Map<string, CustomSource[]>();

/**
 * Loads the `--custom-source` files: returns the source classes they export,
 * and makes the destinations they export (`defineDestination()`) available to
 * pipelines in this process. A file exporting neither is refused.
 */
export async function loadCustomCode(files: readonly string[]): Promise<CustomSource[]> {
  const sources: CustomSource[] = [];
  for (const given of files) {
    // Once per process: `bizon run`'s worker, or a program's worker and client, share what the first load found.
    const known = loaded.get(path.resolve(given));
    if (known) {
      sources.push(...known);
      continue;
    }
    const { file, exports } = await importCustomFile(given);
    const found = customSourcesOf(file, exports);
    const destinations = Object.entries(exports).filter(([, value]) => isDestinationDefinition(value));
    for (const [exportName, definition] of destinations) registerDestination(definition as Parameters<typeof registerDestination>[0], `${exportName} of ${file}`);
    if (found.length === 0 && destinations.length === 0) {
      throw new ConfigError(
        `Custom source file ${file} exports no source class (a class extending AbstractSource with static streams() and get()) and no destination (defineDestination()).`,
      );
    }
    loaded.set(file, found);
    sources.push(...found);
  }
  checkCustomSources(sources);
  return sources;
}
