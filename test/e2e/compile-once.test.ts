import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../cli/run.ts';
import { startTargetEarly } from '../../cli/temporal-target.ts';
import { compileWork } from '../../config/compile-work.ts';
import { preparePipeline } from '../../config/prepare.ts';
import { readRows, ROOT, tempDir, unique, writeConfig } from '../helpers.ts';

const SECRET = 'BIZON_ENV_COMPILE_ONCE_TOKEN';

describe('bizon run compiles a pipeline once per process', () => {
  const dir = tempDir('compile-once-');
  afterAll(() => {
    delete process.env[SECRET];
  });

  it('parses the YAML once, loads the custom code once, finds the secrets once, prepares once — and syncs', async () => {
    // A file of this test's own, so nothing else in this process has loaded it.
    const sourceFile = path.join(dir, 'counted-source.ts');
    copyFileSync(path.join(ROOT, 'test', 'fixtures', 'compile-once', 'counted-source.ts'), sourceFile);
    process.env[SECRET] = 'a-token-of-23-characters';
    const output = path.join(dir, 'output');
    const configFile = writeConfig(dir, {
      name: unique('compile-once'),
      source: { name: 'counted', stream: 'items', api_token: SECRET },
      destination: { name: 'file', config: { directory: output } },
      engine: { temporal: { address: inject('temporalAddress'), task_queue: unique('compile-once') } },
    });
    const before = { ...compileWork };
    const evaluations = () => (globalThis as { countedSourceEvaluations?: number }).countedSourceEvaluations ?? 0;

    // What `bizon run <file> --custom-source <file>` does: its server found early from the file, then the command.
    const early = startTargetEarly(configFile);
    const code = await runCommand(configFile, {
      customSource: [sourceFile],
      logLevel: 'ERROR',
      worker: true,
      detach: false,
      attach: false,
      reset: false,
      forceIgnoreCheckpoint: false,
      allowLiteralSecrets: false,
    }, early);

    expect(code).toBe(0);
    const files = readdirSync(output).filter((file) => file.endsWith('.jsonl'));
    const rows = files.flatMap((file) => readRows(path.join(output, file)));
    expect(rows.map((row) => row.source_record_id).sort()).toEqual(['1-1', '1-2', '2-1', '2-2', '3-1', '3-2']);
    // The worker's pages saw the secret's value, resolved from the reference.
    expect(rows.every((row) => (row.source_data as { token_length: number }).token_length === 24)).toBe(true);
    expect({
      pipelineFileParses: compileWork.pipelineFileParses - before.pipelineFileParses,
      customCodeEvaluations: evaluations(),
      secretReferenceWalks: compileWork.secretReferenceWalks - before.secretReferenceWalks,
      pipelinePreparations: compileWork.pipelinePreparations - before.pipelinePreparations,
    }).toEqual({ pipelineFileParses: 1, customCodeEvaluations: 1, secretReferenceWalks: 1, pipelinePreparations: 1 });
  });

  it('prepares again when what the pipeline reads of the environment changed: a secret unset since fails as it should', async () => {
    const variable = 'BIZON_ENV_COMPILE_ONCE_OTHER';
    const pipeline = {
      name: unique('compile-env'),
      source: { name: 'dummy', stream: 'creatures', authentication: { type: 'api_key', params: { token: variable } } },
      destination: { name: 'logger' },
    };
    const env: NodeJS.ProcessEnv = { [variable]: 'set' };
    const before = compileWork.pipelinePreparations;
    await preparePipeline({ config: pipeline, env });
    await preparePipeline({ config: pipeline, env });
    expect(compileWork.pipelinePreparations - before).toBe(1);
    delete env[variable];
    await expect(preparePipeline({ config: pipeline, env })).rejects.toThrow(`Missing environment variable: ${variable} (used by source.authentication.params.token)`);
    env[variable] = 'set again';
    await expect(preparePipeline({ config: pipeline, env })).resolves.toMatchObject({ runWorkflowId: expect.stringContaining('compile-env') });
  });
});
