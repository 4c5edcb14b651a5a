import type { TestProject } from 'vitest/node';
import { workflowBundle } from '../engine/workflow-bundle.ts';
import { startDevServer, type DevServer } from '../engine/temporal-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
  }
}

let server: DevServer | undefined;

/** One real Temporal dev server for the suite, on free ports of 127.0.0.1 (never 7233/8233). */
export async function setup(project: TestProject): Promise<void> {
  server = await startDevServer({ ui: true });
  project.provide('temporalAddress', server.address);
  project.provide('temporalUiUrl', server.uiUrl ?? '');
  // Bundle the workflows once, so the CLI processes of the tests find it cached.
  await workflowBundle();
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
