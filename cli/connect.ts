import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { readPipelineConfig, type PipelineConfig } from '../config/pipeline.ts';
import { ConfigError } from '../errors.ts';
import { dataConverterFromEnv } from '../engine/codec.ts';
import { resolveTemporalTarget, type TemporalTarget } from './temporal-target.ts';

/** A client of `target`; an unreachable server is a clear error, not a gRPC deadline. */
export async function connectTo(target: TemporalTarget): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: target.address, connectTimeout: '5s' });
    return new Client({ connection, namespace: target.namespace, dataConverter: dataConverterFromEnv() });
  } catch (error) {
    const origin = target.kind === 'configured' ? 'TEMPORAL_ADDRESS / engine.temporal.address' : 'the local server';
    throw new ConfigError(
      `Cannot reach Temporal at ${target.address} (${origin}): ${(error as Error).message}. Is the server running? \`bizon server\` starts a local one.`,
    );
  }
}

/** A client of the Temporal server that outlives commands (TEMPORAL_ADDRESS, engine.temporal.address or `bizon server`). */
export async function connectToServer(pipeline?: PipelineConfig): Promise<{ client: Client; target: TemporalTarget }> {
  const target = await resolveTemporalTarget(pipeline, false);
  return { client: await connectTo(target), target };
}

/** A command argument that is either a pipeline YAML file or a pipeline name. */
export async function pipelineArgument(value: string): Promise<{ name: string; pipeline: PipelineConfig | undefined }> {
  if (/\.ya?ml$/i.test(value) || existsSync(value)) {
    const pipeline = await readPipelineConfig(value);
    return { name: pipeline.name, pipeline };
  }
  return { name: value, pipeline: undefined };
}
