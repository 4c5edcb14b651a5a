import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { freePort } from '../../engine/temporal-server.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { alertWorkflowId } from '../../workflows/alert.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, quietWorkerLogs, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

/** A local webhook receiver: every alert POSTed to it, parsed. */
let received: Array<{ text: string; bizon: Record<string, unknown> }>;
let receiver: Server;
let receiverUrl: string;
let api: ExampleApi;
let engine: TestEngine;

async function body(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return text;
}

beforeAll(async () => {
  received = [];
  receiver = createServer((request, response) => {
    void body(request).then((text) => {
      // A webhook that was removed: 404, whatever it is sent.
      if (request.url?.endsWith('/gone')) return void response.writeHead(404).end('no_service');
      received.push(JSON.parse(text));
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T000/B000/secret-part`;
  process.env.BIZON_ENV_ALERT_HOOK = receiverUrl;
  process.env.BIZON_UI_URL = 'http://127.0.0.1:8233';
  api = await startExampleApi({ datasets: { users: 30 }, token: 'alerts-token-1f' });
  engine = await startTestEngine([PAGE_SOURCE], 'alerts');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

async function run(name: string, extra: Record<string, unknown>, token = 'alerts-token-1f') {
  process.env.BIZON_ENV_ALERTS_TOKEN = token;
  const started = await startSync(engine.client, {
    config: {
      name,
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_ALERTS_TOKEN' } } },
      destination: { name: 'file', config: { directory: tempDir() } },
      ...extra,
    },
    customSourceFiles: [PAGE_SOURCE],
    taskQueue: engine.taskQueue,
  });
  const outcome = await started.handle.result().then(
    (result) => ({ result: result as SyncResult, error: undefined }),
    (error: Error) => ({ result: undefined, error }),
  );
  return { ...outcome, workflowId: started.workflowId, runId: started.runId! };
}

describe('alerting: a webhook told when a sync fails', () => {
  it('a failed sync sends exactly one alert, with the pipeline, stream, cause and Web UI link; the webhook URL shows nowhere', async () => {
    const name = unique('alert-failed');
    const sync = await run(name, { alerting: { type: 'slack', config: { webhook_url: 'BIZON_ENV_ALERT_HOOK' } } }, 'a-wrong-token');
    expect(sync.error).toBeDefined();
    const alert = engine.client.workflow.getHandle(alertWorkflowId(sync.workflowId, sync.runId, 'failed'));
    await alert.result();
    const alerts = received.filter((alert) => alert.bizon.pipeline === name);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.bizon).toMatchObject({ event: 'failed', stream: 'users', source: 'my_source', workflow_id: sync.workflowId, run_id: sync.runId });
    expect(String(alerts[0]!.bizon.cause)).toMatch(/^HTTP 401 from GET /);
    expect(alerts[0]!.bizon.web_ui).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(sync.workflowId)}/${sync.runId}/history`);
    expect(alerts[0]!.text).toContain(`✖ bizon sync failed: ${name} (my_source/users)`);
    // Neither the sync's history nor the alert's (its input, its activity, its result) holds the webhook URL.
    for (const workflow of [engine.client.workflow.getHandle(sync.workflowId), alert]) {
      const history = JSON.stringify(await workflow.fetchHistory());
      expect(history).toContain('my_source');
      expect(history).not.toContain('secret-part');
      expect(history).not.toContain('hooks/T000');
    }
  });

  it('on: [retried]: a page failing more than retries_above times alerts once, and the sync goes on', async () => {
    const flaky = await startExampleApi({
      datasets: { users: 30 },
      fault: (request, log) => (request.path === '/users' && request.query.page === '2' && log.filter((entry) => entry.query.page === '2').length <= 3 ? { status: 503 } : undefined),
    });
    try {
      const name = unique('alert-retried');
      const started = await startSync(engine.client, {
        config: {
          name,
          source: { name: 'my_source', stream: 'users', api_url: flaky.url, page_size: 10 },
          destination: { name: 'logger' },
          engine: { retry: { initial_interval: '100ms' } },
          alerting: { config: { webhook_url: 'BIZON_ENV_ALERT_HOOK' }, on: ['retried'], retries_above: 2 },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue: engine.taskQueue,
      });
      expect(((await started.handle.result()) as SyncResult).records).toBe(30);
      // Page 2's activity: the second extractPage the sync scheduled. Its alert has an id of its own.
      const { events } = await engine.client.workflow.getHandle(started.workflowId).fetchHistory();
      const pages = events!.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'extractPage');
      const activityId = pages[1]!.activityTaskScheduledEventAttributes!.activityId!;
      const { runId } = await engine.client.workflow.getHandle(started.workflowId).describe();
      await engine.client.workflow.getHandle(alertWorkflowId(started.workflowId, runId, 'retried', activityId)).result();
      const sent = received.filter((alert) => alert.bizon.pipeline === name);
      expect(sent).toHaveLength(1);
      // Sent while page 2 was failing: one page of 10 records done.
      expect(sent[0]!.bizon).toMatchObject({ event: 'retried', stream: 'users', pages: 1, records: 10 });
      expect(String(sent[0]!.bizon.cause)).toMatch(/^HTTP 503 from GET .*page=2/);
    } finally {
      await flaky.close();
    }
  });

  it('type: webhook posts the same JSON as slack (text, and the fields under bizon)', async () => {
    const name = unique('alert-webhook');
    const sync = await run(name, { alerting: { type: 'webhook', config: { webhook_url: 'BIZON_ENV_ALERT_HOOK' } } }, 'a-wrong-token');
    expect(sync.error).toBeDefined();
    await engine.client.workflow.getHandle(alertWorkflowId(sync.workflowId, sync.runId, 'failed')).result();
    const [alert, ...more] = received.filter((alert) => alert.bizon.pipeline === name);
    expect(more).toEqual([]);
    expect(alert!.text).toContain(`✖ bizon sync failed: ${name} (my_source/users)`);
    expect(alert!.bizon).toMatchObject({ event: 'failed', pipeline: name, source: 'my_source', stream: 'users', destination: 'file', workflow_id: sync.workflowId });
  });

  it('a webhook answering 404 is not retried: the alert fails at its first attempt, naming the status', async () => {
    process.env.BIZON_ENV_GONE_HOOK = `${receiverUrl}/gone`;
    const sync = await run(unique('alert-gone'), { alerting: { config: { webhook_url: 'BIZON_ENV_GONE_HOOK' } } }, 'a-wrong-token');
    expect(sync.error).toBeDefined();
    const alert = engine.client.workflow.getHandle(alertWorkflowId(sync.workflowId, sync.runId, 'failed'));
    const failure = await alert.result().then(
      () => undefined,
      (error: Error & { cause?: Error & { cause?: Error } }) => String(error.cause?.cause?.message ?? error.cause?.message),
    );
    expect(failure).toBe('The alert webhook answered HTTP 404: check alerting.config.webhook_url');
    const { events } = await alert.fetchHistory();
    expect(events!.filter((event) => event.activityTaskStartedEventAttributes).map((event) => event.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
    expect(JSON.stringify(events)).not.toContain('/gone');
  });

  it('without alerting, a failed sync alerts nobody', async () => {
    const name = unique('alert-off');
    const sync = await run(name, {}, 'a-wrong-token');
    expect(sync.error).toBeDefined();
    // The failed sync's history is final: it started no workflow (an alert is one) and ran no activity that sends one.
    const { events } = await engine.client.workflow.getHandle(sync.workflowId).fetchHistory();
    expect(events!.some((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'extractPage')).toBe(true);
    expect(events!.filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(events!.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'sendAlert')).toEqual([]);
    await expect(engine.client.workflow.getHandle(alertWorkflowId(sync.workflowId, sync.runId, 'failed')).describe()).rejects.toThrow(/not found/i);
    expect(received.filter((alert) => alert.bizon.pipeline === name)).toEqual([]);
  });

  it('a receiver that is down neither fails nor holds the sync: the alert is retried on its own until it is up', async () => {
    const name = unique('alert-down');
    const port = await freePort();
    process.env.BIZON_ENV_LATE_HOOK = `http://127.0.0.1:${port}/late-hook`;
    const sync = await run(name, { alerting: { config: { webhook_url: 'BIZON_ENV_LATE_HOOK' }, on: ['succeeded', 'failed'] } });
    expect(sync.result?.records).toBe(30);
    // The sync has ended; its alert keeps trying to reach the receiver: wait for its second attempt.
    const alert = engine.client.workflow.getHandle(alertWorkflowId(sync.workflowId, sync.runId, 'succeeded'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [pending] = (await alert.describe()).raw.pendingActivities ?? [];
      if ((pending?.attempt ?? 0) >= 2) {
        expect(pending!.lastFailure?.message).toMatch(/ECONNREFUSED|connect|refused/i);
        break;
      }
      if (Date.now() > deadline) throw new Error('the alert was never retried');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The receiver comes up: the next attempt delivers the alert.
    const late: Array<{ bizon: Record<string, unknown> }> = [];
    const lateReceiver = createServer((request, response) => {
      void body(request).then((text) => {
        late.push(JSON.parse(text));
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => lateReceiver.listen(port, '127.0.0.1', resolve));
    try {
      await alert.result();
      expect(late).toHaveLength(1);
      expect(late[0]!.bizon).toMatchObject({ event: 'succeeded', pipeline: name, records: 30 });
    } finally {
      await new Promise<void>((resolve) => lateReceiver.close(() => resolve()));
    }
  });
});
