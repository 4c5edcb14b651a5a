import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSync } from '../../client.ts';
import type { PipelineResult, SyncResult } from '../../workflows/types.ts';
import { ROOT, readRows, quietWorkerLogs, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = path.join(ROOT, 'test-output');
let engine: TestEngine;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: run scripts/setup.sh --for-tests (apt-get install chromium), or set CHROMIUM_PATH`);
  engine = await startTestEngine([], 'web-ui');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  await engine?.stop();
});

describe('the Temporal Web UI shows a sync page by page', () => {
  it('the run page lists one extractPage per page with its pagination, and the memo holds the watermark', async () => {
    const name = unique('web-ui');
    const sync = await startSync(engine.client, {
      config: {
        name,
        source: { name: 'dummy', stream: 'plants', page_size: 4 },
        destination: { name: 'file', config: { directory: tempDir() } },
      },
      taskQueue: engine.taskQueue,
    });
    const result = (await sync.handle.result()) as SyncResult;
    expect(result.iterations).toBe(3);

    const page = await browser.newPage({ viewport: { width: 1500, height: 1300 } });
    const url = `${inject('temporalUiUrl')}/namespaces/default/workflows/${encodeURIComponent(sync.workflowId)}/${sync.runId}/history`;
    await page.goto(url);
    await page.getByText('page 3 · {"offset":8}').first().waitFor({ timeout: 30_000 });
    const history = await page.textContent('body');
    // One extractPage per page, each with its summary: exactly three, not "at least one".
    expect(await page.getByText(/^page \d+ · /).count()).toBe(3);
    expect(await page.getByText('extractPage', { exact: true }).count()).toBe(3);
    expect(history).toContain('extractPage');
    expect(history).toContain('page 1 · first page');
    expect(history).toContain('page 2 · {"offset":4}');
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'web-ui-history.png') });

    await page.getByText('Memo', { exact: true }).first().click();
    await page.getByText('last_run').first().waitFor({ timeout: 30_000 });
    // Read the memo panel itself (the code view holding the memo's fields), not the whole page.
    const memo = (await page.locator('.cm-content').allTextContents()).find((text) => text.includes('"bizon_pipeline"')) ?? '';
    expect(memo).toMatch(new RegExp(`"last_run":\\s*"${result.lastRun}"`));
    expect(memo).toMatch(/"pages":\s*3\b/);
    expect(memo).toMatch(new RegExp(`"bizon_pipeline":\\s*"${name}"`));
    await page.screenshot({ path: path.join(OUTPUT, 'web-ui-memo.png') });
    await page.close();
  });

  it('with page_activity: local, each page is a local-activity marker labelled with its page', async () => {
    const sync = await startSync(engine.client, {
      config: {
        name: unique('web-ui-local'),
        source: { name: 'dummy', stream: 'plants', page_size: 4 },
        destination: { name: 'file', config: { directory: tempDir() } },
        engine: { page_activity: 'local' },
      },
      taskQueue: engine.taskQueue,
    });
    expect(((await sync.handle.result()) as SyncResult).iterations).toBe(3);

    const page = await browser.newPage({ viewport: { width: 1500, height: 1300 } });
    await page.goto(`${inject('temporalUiUrl')}/namespaces/default/workflows/${encodeURIComponent(sync.workflowId)}/${sync.runId}/history`);
    await page.getByText('page 3 · {"offset":8}').first().waitFor({ timeout: 30_000 });
    expect(await page.getByText(/^page \d+ · /).count()).toBe(3);
    const history = await page.textContent('body');
    expect(history).toContain('page 1 · first page');
    expect(history).toContain('page 2 · {"offset":4}');
    // Each page's row: a local activity of type extractPage, labelled with its page.
    for (const label of ['page 1 · first page', 'page 2 · {"offset":4}', 'page 3 · {"offset":8}']) {
      const row = page.locator('tr', { hasText: label });
      expect(await row.count()).toBe(1);
      expect(await row.textContent()).toMatch(/Local Activity.*extractPage/);
    }
    await page.getByText('page 2 · {"offset":4}').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUTPUT, 'web-ui-local-pages.png') });
    await page.close();
  });
});

describe('the Temporal Web UI starts a sync', () => {
  it("the Start Workflow form starts bizonPipeline with the pipeline as JSON, and every record lands once", async () => {
    const workflowId = unique('from-web-ui');
    const directory = tempDir();
    const input = { pipeline: { name: unique('web-ui-start'), source: { name: 'dummy', stream: 'plants', page_size: 4 }, destination: { name: 'file', config: { directory } } } };
    const page = await browser.newPage({ viewport: { width: 1500, height: 1300 } });
    await page.goto(`${inject('temporalUiUrl')}/namespaces/default/workflows/start-workflow`);
    await page.locator('#workflowId').fill(workflowId);
    await page.locator('#taskQueue').fill(engine.taskQueue);
    await page.locator('#workflowType').fill('bizonPipeline');
    // The form looks the task queue up once its field is left; the box moves the button down.
    await page.getByText('Task Queue is Active').waitFor({ timeout: 30_000 });
    await page.locator('[aria-label="Data"]').click();
    await page.keyboard.insertText(JSON.stringify(input));
    // The form takes the editor's text when it loses focus.
    await page.locator('#workflowType').click();
    const [started] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST' && response.url().includes(`/workflows/${workflowId}`)),
      page.getByRole('button', { name: 'Start Workflow' }).click(),
    ]);
    expect(started.status()).toBe(200);
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'web-ui-start-workflow.png') });
    await page.close();

    const result = (await engine.client.workflow.getHandle(workflowId).result()) as PipelineResult;
    expect(result.streams.map((stream) => [stream.stream, stream.status, stream.result?.records])).toEqual([['plants', 'succeeded', 10]]);
    const ids = readRows(path.join(directory, 'dummy_plants.jsonl')).map((row) => (row.source_data as { id: number }).id);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
