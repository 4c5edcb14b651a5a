import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { pipelineWorkflowInput, preparePipeline } from '../config/prepare.ts';
import { ensureSearchAttributes } from '../engine/search-attributes.ts';
import { BizonError } from '../errors.ts';
import type { CustomSource } from '../sources/registry.ts';
import type { CompilePipelineInput } from '../workflows/bizon-pipeline.ts';
import type { PipelineWorkflowInput } from '../workflows/types.ts';

/** Failure type of a pipeline that cannot run: `bizonPipeline` fails with it, the message saying what is wrong and where. */
export const INVALID_PIPELINE = 'InvalidPipeline';

/** Options of {@link createCompileActivity}: what this worker can run and which secrets it may hand out. */
export interface CompileActivityOptions {
  customSources: readonly CustomSource[];
  env?: NodeJS.ProcessEnv;
  allowEnv?: readonly string[];
}

/**
 * The activity that turns a pipeline as written (the YAML as JSON) into what the sync workflows run, on the worker
 * that has the code: the built-in and `--custom-source` sources, the environment holding the secrets, and the
 * operator's `--allow-env` bindings. Anything wrong with the pipeline fails for good, in the words `bizon check` uses.
 */
export function createCompileActivity(options: CompileActivityOptions) {
  return {
    async compilePipeline(input: CompilePipelineInput): Promise<PipelineWorkflowInput> {
      let compiled: PipelineWorkflowInput;
      try {
        const prepared = await preparePipeline({
          config: withRunOptions(input),
          customSources: options.customSources,
          env: options.env ?? process.env,
          ...(options.allowEnv ? { allowEnv: options.allowEnv } : {}),
          reset: input.reset === true,
          forceIgnoreCheckpoint: input.force_ignore_checkpoint === true,
          allowLiteralSecrets: input.allow_literal_secrets === true,
        });
        compiled = pipelineWorkflowInput(prepared);
      } catch (error) {
        if (!(error instanceof BizonError)) throw error;
        throw ApplicationFailure.create({ type: INVALID_PIPELINE, nonRetryable: true, message: onThisWorker(error.message, options.customSources) });
      }
      // A fresh namespace gets bizon's search attributes here, before the first sync needs them.
      await ensureSearchAttributes(Context.current().client);
      return compiled;
    },
  };
}

function withRunOptions(input: CompilePipelineInput): Record<string, unknown> {
  const pipeline = input.pipeline;
  if (input.max_iterations === undefined || typeof pipeline.source !== 'object' || pipeline.source === null) return pipeline;
  return { ...pipeline, source: { ...(pipeline.source as Record<string, unknown>), max_iterations: input.max_iterations } };
}

/** A worker is told its own sources with `bizon worker --custom-source`, not `bizon run`'s flag. */
function onThisWorker(message: string, customSources: readonly CustomSource[]): string {
  if (!/^Unknown source|has no stream/.test(message)) return message;
  const files = [...new Set(customSources.map((source) => source.file).filter(Boolean))];
  return `${message.replace(/ For your own source, pass its file: --custom-source \S+$/, '')} This worker runs ${files.length ? `the custom sources of ${files.join(', ')}` : 'no custom source'}: start the worker with --custom-source <file> for it.`;
}
