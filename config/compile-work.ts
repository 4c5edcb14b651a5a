/**
 * How often this process has done each costly step of compiling a pipeline. Each result is kept (a file parsed once
 * while its text is the same, a pipeline's secret references found once, a pipeline prepared once for the same
 * input, code and environment), so `bizon run` with its worker does each once; a test holds it to that.
 */
export const compileWork = {
  /** YAML texts parsed (`config/pipeline-file.ts`). */
  pipelineFileParses: 0,
  /** Walks of a config looking for secret references (`config/secrets.ts`). */
  secretReferenceWalks: 0,
  /** Pipelines prepared: validated, resolved, checked and planned (`config/prepare.ts`). */
  pipelinePreparations: 0,
};

/** A map that forgets its oldest entry beyond `limit`: what a long-running worker keeps stays bounded. */
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>();
  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      // Most recently used last: the first entry is the one to forget.
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.limit) this.#entries.delete(this.#entries.keys().next().value as K);
  }
}
