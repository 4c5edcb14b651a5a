import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/package-root.ts';
import { workflowBundle } from '../../engine/workflow-bundle.ts';

// Histories of real syncs (scripts/record-histories.ts) replayed against the workflow code of this checkout: a
// change that would break the syncs running when a fleet upgrades fails here, naming the history.
// The mutant's replays log their nondeterminism as warnings: only errors are worth printing.
Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: 'ERROR', forward: {} } } });

const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'histories');

/**
 * A history in the Temporal CLI's JSON, as a History message. Parsed with the protobufjs instance
 * `@temporalio/proto` itself uses: the SDK's `historyFromJSON` takes its own, and where npm installs two
 * copies (this tree holds protobufjs 7 and 8) the two disagree on what a message type is.
 */
const historyFromCliJson = (() => {
  const fromProto = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
  const { fromJson } = fromProto('protobufjs/ext/protojson') as { fromJson: (type: unknown, json: unknown, options: object) => unknown };
  const { patchProtobufRoot } = fromProto('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot: (root: unknown) => { lookupType(name: string): unknown } };
  const historyType = patchProtobufRoot(fromProto('@temporalio/proto')).lookupType('temporal.api.history.v1.History');
  return (json: unknown) => fromJson(historyType, json, { ignoreUnknownFields: true });
})();
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => {
    const fixture = JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as { workflowId: string; type: string; history: unknown };
    return { name, workflowId: fixture.workflowId, type: fixture.type, history: historyFromCliJson(fixture.history) };
  });

/** Replays every fixture on `bundle`; returns `fixture: error` for each that does not replay. */
async function replayFailures(bundle: { code: string } | { codePath: string }): Promise<string[]> {
  const failures: string[] = [];
  // One at a time: runs of one workflow id (continue-as-new, a resumed sync) share it.
  for (const fixture of fixtures) {
    const results = Worker.runReplayHistories({ workflowBundle: bundle, replayName: fixture.name }, [{ workflowId: fixture.workflowId, history: fixture.history }]);
    for await (const result of results) {
      if (result.error) failures.push(`${fixture.name}: ${result.error.name}: ${result.error.message.split('\n')[0]}`);
    }
  }
  return failures;
}

// Beside workflows/, so its type-only imports (../config, ../sources) resolve as the original's do.
const mutantRoot = path.join(PACKAGE_ROOT, `.workflows-mutant-${process.pid}`);
afterAll(() => rmSync(mutantRoot, { recursive: true, force: true }));

describe('replaying recorded histories (upgrade safety)', () => {
  it('covers every kind of sync: full refresh, incremental, resumed, continued-as-new, rate-limited, batched, local pages, several streams, sliced, alerting, scheduled', () => {
    const cases = new Set(fixtures.map((fixture) => fixture.name.split('--')[0]));
    for (const name of ['full-refresh', 'incremental', 'resumed', 'continued-as-new', 'rate-limited', 'batched', 'local-pages', 'several-streams', 'sliced', 'alerting', 'scheduled']) expect(cases).toContain(name);
    const types = new Set(fixtures.map((fixture) => fixture.type));
    for (const type of ['bizonPipeline', 'syncWorkflow', 'streamStateWorkflow', 'requestPacerWorkflow', 'alertWorkflow']) expect(types).toContain(type);
  });

  it('every history replays on the current workflow code', async () => {
    expect(await replayFailures(await workflowBundle())).toEqual([]);
  });

  it('a non-deterministic change (a timer before the first activity, in a copy of the code) fails the replay, naming each sync history', async () => {
    const workflows = mutantRoot;
    mkdirSync(mutantRoot, { recursive: true });
    cpSync(path.join(PACKAGE_ROOT, 'workflows'), workflows, { recursive: true });
    const syncFile = path.join(workflows, 'sync.ts');
    const source = readFileSync(syncFile, 'utf8');
    const start = 'export async function syncWorkflow(input: SyncWorkflowInput): Promise<SyncResult> {';
    expect(source).toContain(start);
    writeFileSync(syncFile, `import { sleep as mutantSleep } from '@temporalio/workflow';\n${source.replace(start, `${start}\n  await mutantSleep(1);`)}`);
    const noop = () => undefined;
    const bundle = await bundleWorkflowCode({ workflowsPath: path.join(workflows, 'index.ts'), logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop } });

    const failures = await replayFailures(bundle);
    const syncFixtures = fixtures.filter((fixture) => fixture.type === 'syncWorkflow').map((fixture) => fixture.name);
    expect(failures.map((failure) => failure.split(':')[0])).toEqual(syncFixtures);
    for (const failure of failures) expect(failure).toMatch(/DeterminismViolationError/);
  });
});
