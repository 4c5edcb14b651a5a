/**
 * Transform functions of your own: the escape hatch of `transforms:` when no built-in step says it. Exported from a
 * `--custom-source` file with `defineTransform()`, named in the pipeline with `{ function: <name> }`.
 */
import { ConfigError } from '../errors.ts';

type MaybePromise<T> = T | Promise<T>;

/** What a transform function is told besides the record. */
export interface TransformContext {
  /** The stream the record was read from. */
  stream: string;
  /** The record's id (its primary key in the source). */
  id: string;
}

/** A named function over a record's data: the data to write, or null to drop the record. */
export interface TransformDefinition {
  readonly kind: 'bizon-transform';
  readonly name: string;
  readonly transform: (data: Record<string, unknown>, context: TransformContext) => MaybePromise<Record<string, unknown> | null>;
}

/**
 * Defines a transform function for pipelines' `transforms: [{ function: <name> }]`: export it from a file given
 * with `--custom-source` (or register it in a program with {@link registerTransform}). It gets each record's data
 * and returns the data to write — a new object or the same one changed — or null to drop the record.
 */
export function defineTransform(name: string, transform: TransformDefinition['transform']): TransformDefinition {
  return { kind: 'bizon-transform', name, transform };
}

const registered = new Map<string, TransformDefinition>();

/** Whether a value is a {@link defineTransform} definition. */
export function isTransformDefinition(value: unknown): value is TransformDefinition {
  return value !== null && typeof value === 'object' && (value as Partial<TransformDefinition>).kind === 'bizon-transform' && typeof (value as Partial<TransformDefinition>).transform === 'function';
}

/** Makes a transform function available to pipelines in this process (a custom file's are registered when it is loaded). */
export function registerTransform(definition: TransformDefinition, origin = 'a program'): void {
  if (!/^[a-z][a-z0-9_-]*$/i.test(definition.name)) throw new ConfigError(`Transform name '${definition.name}' (from ${origin}) must be letters, digits, - and _`);
  const known = registered.get(definition.name);
  if (known && known !== definition) throw new ConfigError(`Two transform functions are named '${definition.name}' (the second from ${origin}): give each its own name`);
  registered.set(definition.name, definition);
}

/** The transform function a pipeline names; an unknown name is refused, with the names there are and how to add one. */
export function transformFunction(name: string): TransformDefinition {
  const found = registered.get(name);
  if (found) return found;
  const names = [...registered.keys()];
  throw new ConfigError(
    `transforms: no transform function '${name}' (${names.length ? `known: ${names.join(', ')}` : 'none is loaded'}). Export it with defineTransform('${name}', (data) => …) from a file given with --custom-source`,
  );
}
