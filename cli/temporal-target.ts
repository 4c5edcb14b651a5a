import path from 'node:path';
import type { PipelineConfig } from '../config/pipeline.ts';
import { LOCAL_SERVER_ADDRESS, LOCAL_UI_PORT } from '../engine/constants.ts';
import { isListening, startDevServer, type DevServer } from '../engine/temporal-server.ts';
import { ConfigError } from '../errors.ts';

/** The Temporal server a command talks to, and the embedded one it started, if any. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Base URL of the Web UI, when known. */
  uiUrl: string | undefined;
  kind: 'configured' | 'local-server' | 'embedded';
  embedded?: DevServer;
}

/** Where `bizon run` and `bizon server` keep the local server's state. */
export function localStateFile(cwd = process.cwd()): string {
  return path.join(cwd, '.bizon', 'temporal.db');
}

/**
 * `engine.temporal.address`, else `TEMPORAL_ADDRESS`, else a running
 * `bizon server` on 127.0.0.1:7233, else (when allowed) an embedded dev
 * server whose state is kept in `.bizon/temporal.db`.
 */
export async function resolveTemporalTarget(pipeline: PipelineConfig | undefined, allowEmbedded: boolean): Promise<TemporalTarget> {
  const namespace = pipeline?.engine.temporal.namespace ?? 'default';
  const configured = pipeline?.engine.temporal.address ?? process.env.TEMPORAL_ADDRESS;
  if (configured) return { address: configured, namespace, uiUrl: process.env.BIZON_UI_URL, kind: 'configured' };
  if (await isListening(LOCAL_SERVER_ADDRESS)) {
    return { address: LOCAL_SERVER_ADDRESS, namespace, uiUrl: `http://127.0.0.1:${LOCAL_UI_PORT}`, kind: 'local-server' };
  }
  if (!allowEmbedded) {
    throw new ConfigError('No Temporal server to use: set TEMPORAL_ADDRESS (or engine.temporal.address), or start one with `bizon server`. (--detach and --no-worker need a server that outlives this command.)');
  }
  const embedded = await startDevServer({ dbFile: localStateFile(), namespace });
  return { address: embedded.address, namespace, uiUrl: embedded.uiUrl, kind: 'embedded', embedded };
}

/** Link to a workflow's page in the Web UI. */
export function workflowUrl(target: Pick<TemporalTarget, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string | undefined {
  if (!target.uiUrl) return undefined;
  const base = `${target.uiUrl}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}
