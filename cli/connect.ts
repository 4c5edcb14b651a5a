import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { readPipelineConfig, type PipelineConfig } from '../config/pipeline.ts';
import { resolveTemporalTarget, type TemporalTarget } from './temporal-target.ts';

/** A client of the Temporal server that outlives commands (TEMPORAL_ADDRESS, engine.temporal.address or `bizon server`). */
export async function connectToServer(pipeline?: PipelineConfig): Promise<{ client: Client; target: TemporalTarget }> {
  const target = await resolveTemporalTarget(pipeline, false);
  const client = new Client({ connection: await Connection.connect({ address: target.address }), namespace: target.namespace });
  return { client, target };
}

/** A command argument that is either a pipeline YAML file or a pipeline name. */
export async function pipelineArgument(value: string): Promise<{ name: string; pipeline: PipelineConfig | undefined }> {
  if (/\.ya?ml$/i.test(value) || existsSync(value)) {
    const pipeline = await readPipelineConfig(value);
    return { name: pipeline.name, pipeline };
  }
  return { name: value, pipeline: undefined };
}
