import { writeFileSync } from 'node:fs';
import type { PipelineResult, SyncResult } from '../workflows/types.ts';
import { describeFailure } from './failure.ts';

/**
 * What `bizon run --result-json <path>` writes for the scheduler that called it, whatever the outcome:
 * `status` is `succeeded`, `failed`, `started` (with `--detach`) or `invalid` (the config or command was
 * wrong, nothing started).
 */
export interface RunResultFile {
  status: 'succeeded' | 'failed' | 'started' | 'invalid';
  pipeline: string | null;
  workflow_id: string | null;
  records: number | null;
  pages: number | null;
  duration_ms: number;
  /** The class of the failure's root cause (`HttpError`, `MalformedIterationError`, `ConfigError`, …). */
  failure_class: string | null;
  error: string | null;
  /** Per output: `discarded`, the records its schema_contract left out, when there were any. */
  outputs: Array<{ destination_id: string; records: number; location: string; discarded?: number }>;
  /** A pipeline of several streams: each stream's outcome. */
  streams?: Array<{ stream: string; status: string; records: number | null; pages: number | null; error: string | null }>;
}

/** Collects a run's outcome and writes it to `path` (when given). */
export class RunResultRecorder {
  private readonly startedAt = Date.now();
  private file: Omit<RunResultFile, 'duration_ms'> = { status: 'invalid', pipeline: null, workflow_id: null, records: null, pages: null, failure_class: null, error: null, outputs: [] };

  constructor(private readonly path: string | undefined) {}

  started(pipeline: string, workflowId: string): void {
    this.file = { ...this.file, status: 'started', pipeline, workflow_id: workflowId };
  }

  succeeded(result: SyncResult): void {
    this.file = {
      ...this.file,
      status: 'succeeded',
      records: result.records,
      pages: result.iterations,
      outputs: result.outputs.map((output) => ({ destination_id: output.destinationId, records: output.records, location: output.location, ...(output.discarded ? { discarded: output.discarded } : {}) })),
    };
  }

  failed(error: unknown): void {
    const failure = describeFailure(error);
    this.file = { ...this.file, status: this.file.workflow_id ? 'failed' : 'invalid', failure_class: failure.type ?? null, error: failure.message };
  }

  pipelineEnded(code: number, pipeline: PipelineResult | undefined): void {
    const streams = pipeline?.streams ?? [];
    const results = streams.map((stream) => stream.result).filter((result): result is SyncResult => result !== null);
    this.file = {
      ...this.file,
      status: code === 0 ? 'succeeded' : 'failed',
      records: results.reduce((sum, result) => sum + result.records, 0),
      pages: results.reduce((sum, result) => sum + result.iterations, 0),
      error: code === 0 ? null : streams.filter((stream) => stream.status !== 'succeeded').map((stream) => `${stream.stream}: ${stream.error ?? stream.status}`).join('; '),
      outputs: results.flatMap((result) => result.outputs.map((output) => ({ destination_id: output.destinationId, records: output.records, location: output.location, ...(output.discarded ? { discarded: output.discarded } : {}) }))),
      streams: streams.map((stream) => ({ stream: stream.stream, status: stream.status, records: stream.result?.records ?? null, pages: stream.result?.iterations ?? null, error: stream.error })),
    };
  }

  /** Writes the file; a command must not fail because of it, so a write error is only reported. */
  write(): void {
    if (!this.path) return;
    try {
      writeFileSync(this.path, `${JSON.stringify({ ...this.file, duration_ms: Date.now() - this.startedAt }, null, 2)}\n`);
    } catch (error) {
      process.stderr.write(`Warning: could not write --result-json ${this.path}: ${(error as Error).message}\n`);
    }
  }
}
