import { existsSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { connectClient, withClient } from '../client.ts';
import { readPipelineDefinition, type PipelineConfig } from '../config/pipeline.ts';
import { resolveTemporalTarget, type TemporalTarget } from './temporal-target.ts';

function connectOptions(target: TemporalTarget) {
  const security = target.security;
  const origin = security?.origins.address ?? 'the local server';
  return {
    address: target.address,
    namespace: target.namespace,
    origin,
    ...(security?.tls ? { tls: security.tls } : {}),
    ...(security?.apiKey !== undefined ? { apiKey: security.apiKey } : {}),
    ...(security?.metadata ? { metadata: security.metadata } : {}),
    ...(security ? { origins: security.origins } : {}),
  };
}

/** What a worker of `target` connects with (the same as the command's client). */
export function workerConnectOptions(target: TemporalTarget) {
  const { origin: _origin, ...options } = connectOptions(target);
  return options;
}

/** A client of `target`; an unreachable server is a clear error, not a gRPC deadline. */
export async function connectTo(target: TemporalTarget): Promise<Client> {
  return connectClient(connectOptions(target));
}

/**
 * A client of `target` while this command's worker starts beside it, with the same settings: whichever fails
 * first is the command's error (a worker's failed handshake is explained at once, where the client may wait out
 * its deadline), and a worker failing later is never left unhandled.
 */
export async function connectBesideWorker(target: TemporalTarget, workerReady: Promise<unknown> | undefined): Promise<Client> {
  const connecting = connectTo(target);
  if (!workerReady) return connecting;
  const workerFailed = workerReady.then(() => new Promise<never>(() => undefined));
  workerFailed.catch(() => undefined);
  try {
    return await Promise.race([connecting, workerFailed]);
  } catch (error) {
    void connecting.then((client) => client.connection.close(), () => undefined);
    throw error;
  }
}

/**
 * Runs `work` with a client of the Temporal server that outlives commands
 * (TEMPORAL_ADDRESS, engine.temporal.address or `bizon server`), and closes it.
 */
export async function withServerClient<T>(pipeline: PipelineConfig | undefined, work: (client: Client, target: TemporalTarget) => Promise<T>): Promise<T> {
  const target = await resolveTemporalTarget(pipeline, false);
  return withClient(connectOptions(target), (client) => work(client, target));
}

/** A command argument that is either a pipeline YAML file or a pipeline name. */
export async function pipelineArgument(value: string): Promise<{ name: string; pipeline: PipelineConfig | undefined }> {
  if (/\.ya?ml$/i.test(value) || existsSync(value)) {
    // Any stream's config tells the pipeline's name and server.
    const definition = await readPipelineDefinition(value);
    return { name: definition.name, pipeline: definition.pipelines[0] };
  }
  return { name: value, pipeline: undefined };
}
