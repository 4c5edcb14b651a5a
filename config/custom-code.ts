import path from 'node:path';
import { isDestinationDefinition, registerDestination } from '../destinations/index.ts';
import { ConfigError } from '../errors.ts';
import { isRestHook, registerRestHook, type RestHook } from '../sources/rest-hooks.ts';
import { isTransformDefinition, registerTransform } from '../transforms/functions.ts';
import { checkCustomSources, customSourcesOf, importCustomFile, type CustomSource } from '../sources/registry.ts';

const loaded = new Map<string, CustomSource[]>();

/**
 * Loads the `--custom-source` files: returns the source classes they export,
 * and makes the destinations (`defineDestination()`) and functions
 * (`defineTransform()`, `definePaginator()`, `defineAuthenticator()`) they
 * export available to pipelines in this process. A file exporting none is refused.
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
    const hooks = Object.entries(exports).filter(([, value]) => isTransformDefinition(value) || isRestHook(value));
    for (const [exportName, definition] of hooks) {
      if (isTransformDefinition(definition)) registerTransform(definition, `${exportName} of ${file}`);
      else registerRestHook(definition as RestHook, `${exportName} of ${file}`);
    }
    if (found.length === 0 && destinations.length === 0 && hooks.length === 0) {
      throw new ConfigError(
        `Custom source file ${file} exports no source class (a class extending AbstractSource with static streams() and get()), no destination (defineDestination()) and no function (defineTransform(), definePaginator(), defineAuthenticator()).`,
      );
    }
    loaded.set(file, found);
    sources.push(...found);
  }
  checkCustomSources(sources);
  return sources;
}
