import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { readPipelineFile } from '../config/pipeline-file.ts';
import type { PipelineConfig } from '../config/pipeline.ts';
import { LOCAL_RETENTION_DAYS, LOCAL_SERVER_ADDRESS, LOCAL_UI_PORT } from '../engine/constants.ts';
import { isListening, startDevServer, type DevServer } from '../engine/temporal-server.ts';
import { resolveConnectionSettings, type TemporalConnectionSettings } from '../config/connection.ts';
import { ConfigError } from '../errors.ts';

/** How to connect beyond the address: TLS, API key, metadata, and which settings gave them. */
export type ConnectionSecurity = Omit<TemporalConnectionSettings, 'address' | 'namespace'>;

/** The Temporal server a command talks to, and the embedded one it started, if any. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** TLS and credentials, for a configured server. */
  security?: ConnectionSecurity;
  /** Base URL of the Web UI, when known. */
  uiUrl: string | undefined;
  kind: 'configured' | 'local-server' | 'embedded';
  embedded?: DevServer;
}

/**
 * The folder of the local Temporal server's state, one per user whatever the
 * working directory (so cron and a terminal share it): `BIZON_STATE_DIR`, else
 * `$XDG_STATE_HOME/bizon-temporal`, else `~/.local/state/bizon-temporal`.
 */
export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BIZON_STATE_DIR) return path.resolve(env.BIZON_STATE_DIR);
  return path.join(env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state'), 'bizon-temporal');
}

/** Where `bizon run` and `bizon server` keep the local server's state. */
export function localStateFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(localStateDir(env), 'temporal.db');
}

/**
 * Earlier versions kept the state in `.bizon/` of the working directory: moves
 * it to {@link localStateFile} when nothing is there yet, and says so.
 */
export function adoptWorkingDirectoryState(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined {
  const old = path.join(cwd, '.bizon', 'temporal.db');
  const target = localStateFile(env);
  if (!existsSync(old) || existsSync(target) || path.resolve(old) === target) return undefined;
  mkdirSync(path.dirname(target), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(old + suffix)) renameSync(old + suffix, target + suffix);
  return `Moved the local Temporal state from ${old} to ${target} (one place for every working directory; BIZON_STATE_DIR chooses another).`;
}

/**
 * `engine.temporal.address`, else `TEMPORAL_ADDRESS`, else the Temporal config
 * profile's address (with TLS and API key the same way), else a running
 * `bizon server` on 127.0.0.1:7233, else (when allowed) an embedded dev
 * server whose state is kept in {@link localStateFile}.
 */
export async function resolveTemporalTarget(pipeline: PipelineConfig | undefined, allowEmbedded: boolean): Promise<TemporalTarget> {
  return resolveTarget(connectionPart(pipeline?.engine.temporal), allowEmbedded);
}

/** What of a pipeline's `engine.temporal` says where and how to connect (the task queue does not). */
type TemporalSettings = Partial<Pick<PipelineConfig['engine']['temporal'], 'address' | 'namespace' | 'api_key' | 'tls'>>;

function connectionPart(temporal: TemporalSettings | undefined): TemporalSettings {
  return { address: temporal?.address, namespace: temporal?.namespace, api_key: temporal?.api_key, tls: temporal?.tls };
}

/** A server being found (or started) for a config file, before the file is validated. */
export interface EarlyTarget extends TemporalSettings {
  target: Promise<TemporalTarget>;
}

/**
 * Starts finding (and, when none runs, starting) the Temporal server of a
 * config file as soon as the command starts, so the local server boots while
 * the SDK and the sources load. Reads only `engine.temporal` from the raw
 * YAML; the command checks it against the validated config before it uses the
 * target. Undefined when the file cannot be read.
 */
export function startTargetEarly(configFile: string): EarlyTarget | undefined {
  let raw: { engine?: { temporal?: Record<string, unknown> } } | undefined;
  try {
    raw = (readPipelineFile(configFile) as typeof raw) ?? undefined;
  } catch {
    return undefined;
  }
  const temporal = raw?.engine?.temporal;
  const settings = connectionPart(temporal !== null && typeof temporal === 'object' ? (temporal as TemporalSettings) : undefined);
  const target = resolveTarget(settings, true);
  // Awaited by the command; until then, a failure must not count as unhandled.
  target.catch(() => undefined);
  return { ...settings, target };
}

/** The early target if it was found for these settings; else it is let go (its server stopped) and undefined. */
export async function claimEarlyTarget(early: EarlyTarget | undefined, pipeline: PipelineConfig | undefined): Promise<TemporalTarget | undefined> {
  if (!early) return undefined;
  const { target: _target, ...settings } = early;
  if (pipeline && JSON.stringify(settings) === JSON.stringify(connectionPart(pipeline.engine.temporal))) return early.target;
  (await early.target.catch(() => undefined))?.embedded?.stopInBackground();
  return undefined;
}

async function resolveTarget(settings: TemporalSettings, allowEmbedded: boolean): Promise<TemporalTarget> {
  const configured = resolveConnectionSettings(settings);
  if (configured) {
    const { address, namespace, ...security } = configured;
    return { address, namespace, security, uiUrl: process.env.BIZON_UI_URL, kind: 'configured' };
  }
  const namespace = settings.namespace ?? 'default';
  if (await isListening(LOCAL_SERVER_ADDRESS)) {
    return { address: LOCAL_SERVER_ADDRESS, namespace, uiUrl: `http://127.0.0.1:${LOCAL_UI_PORT}`, kind: 'local-server' };
  }
  if (!allowEmbedded) {
    throw new ConfigError('No Temporal server to use: set TEMPORAL_ADDRESS (or engine.temporal.address), or start one with `bizon server`. (--detach and --no-worker need a server that outlives this command.)');
  }
  const moved = adoptWorkingDirectoryState();
  if (moved) process.stderr.write(`${moved}\n`);
  const embedded = await startDevServer({ dbFile: localStateFile(), namespace, retentionDays: LOCAL_RETENTION_DAYS });
  return { address: embedded.address, namespace, uiUrl: embedded.uiUrl, kind: 'embedded', embedded };
}

/** Link to a workflow's page in the Web UI. */
export function workflowUrl(target: Pick<TemporalTarget, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string | undefined {
  if (!target.uiUrl) return undefined;
  const base = `${target.uiUrl}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}
