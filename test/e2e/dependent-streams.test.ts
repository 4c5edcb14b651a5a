// Dependent streams of the declarative source (parent → children), against json-server from npm: its nested routes
// (/posts/1/comments), a watermark per parent, a kill in the middle of the fan-out.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { cliEnv, readRows, runBizon, spawnWorker, tempDir, testClient, unique, writeConfig } from '../helpers.ts';
import { startJsonServer, type JsonServer, type JsonServerRequest } from '../json-server.ts';

const POSTS = 12;
const COMMENTS_PER_POST = 3;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString();
let server: JsonServer;
let baseUrl: string;
let requests: JsonServerRequest[];

beforeAll(async () => {
  server = await startJsonServer({
    posts: Array.from({ length: POSTS }, (_, index) => ({ id: index + 1, title: `post ${index + 1}`, updatedAt: at(index) })),
    comments: Array.from({ length: POSTS * COMMENTS_PER_POST }, (_, index) => ({ id: index + 1, postId: Math.floor(index / COMMENTS_PER_POST) + 1, body: `comment ${index + 1}`, updatedAt: at(index) })),
    details: [3, 5, 8].map((id) => ({ id, words: id * 100 })),
  });
  ({ url: baseUrl, requests } = server);
});
afterAll(async () => server?.close());

const PAGED = { type: 'page_number', page_param: '_page', size_param: '_limit', page_size: 5 };
const since = (mark: number) => requests.slice(mark);
const childRequests = (mark: number) => since(mark).filter((request) => /^\/posts\/\d+\/comments$/.test(request.path));
const postOf = (request: { path: string }) => Number(request.path.split('/')[2]);

const patch = (resource: string, body: Record<string, unknown>, method: 'PATCH' | 'POST' = 'PATCH') => server.send(method, resource, body);

describe('a dependent stream (parent: posts) on json-server', () => {
  it('run 2 reads the children of the parents that changed only, each from its own watermark, shown by bizon status', async () => {
    const dir = tempDir();
    const name = unique('comments');
    const taskQueue = unique('comments');
    const configOf = (comments: Record<string, unknown>) =>
      writeConfig(dir, {
        name,
        source: {
          name: 'rest',
          stream: 'comments',
          base_url: baseUrl,
          sync_mode: 'incremental',
          cursor_field: 'updatedAt',
          paginator: PAGED,
          endpoints: {
            posts: { path: '/posts', params: { updatedAt_gte: '{{ last_run }}' }, incremental: { cursor_field: 'updatedAt' } },
            comments: { parent: 'posts', path: '/posts/{{ parent.id }}/comments', params: { updatedAt_gte: '{{ last_run }}' }, incremental: { cursor_field: 'updatedAt' }, parent_fields: ['title'], ...comments },
          },
        },
        destination: { name: 'file', config: { directory: dir } },
        engine: { temporal: { task_queue: taskQueue } },
      });
    const config = configOf({ parents: 'changed', parent_concurrency: 3, write_parent: true });
    let mark = requests.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code, first.stderr).toBe(0);
    // Every post's comments, once each, whole (a first sync has no watermark).
    expect(childRequests(mark).map(postOf).sort((a, b) => a - b)).toEqual(Array.from({ length: POSTS }, (_, index) => index + 1));
    expect(childRequests(mark).every((request) => !request.query.has('updatedAt_gte'))).toBe(true);
    const comments = readRows(path.join(dir, 'rest_comments.jsonl'));
    expect(comments).toHaveLength(POSTS * COMMENTS_PER_POST);
    expect(comments.find((row) => row.source_record_id === '4')!.source_data).toMatchObject({ postId: 2, parent_title: 'post 2' });
    expect(readRows(path.join(dir, 'rest_posts.jsonl')).map((row) => Number(row.source_record_id)).sort((a, b) => a - b)).toEqual(Array.from({ length: POSTS }, (_, index) => index + 1));
    const firstRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;

    // Another client edits post 3 (and adds a comment to it) and post 9.
    const now = new Date().toISOString();
    await patch('posts/3', { title: 'edited 3', updatedAt: now });
    await patch('posts/9', { title: 'edited 9', updatedAt: now });
    await patch('comments', { id: 1000, postId: 3, body: 'new', updatedAt: now }, 'POST');
    mark = requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code, second.stderr).toBe(0);
    // The changed parents, asked for with the stream's watermark (after checkConnection's look at the first page);
    // their comments, each from the parent's own.
    expect(since(mark).filter((request) => request.path === '/posts' && request.query.has('_page')).map((request) => request.query.get('updatedAt_gte'))).toEqual([null, firstRun]);
    expect(childRequests(mark).map((request) => [postOf(request), request.query.get('updatedAt_gte')]).sort()).toEqual([
      [3, firstRun],
      [9, firstRun],
    ]);
    expect(readRows(path.join(dir, 'rest_comments.jsonl')).slice(POSTS * COMMENTS_PER_POST).map((row) => [row.source_record_id, (row.source_data as { parent_title: string }).parent_title])).toEqual([['1000', 'edited 3']]);
    expect(readRows(path.join(dir, 'rest_posts.jsonl')).slice(POSTS).map((row) => row.source_record_id).sort()).toEqual(['3', '9']);
    const secondRun = /watermark: last_run (\S+)/.exec(second.stderr)![1]!;

    // Each parent's watermark: posts 3 and 9 at run 2, the others at run 1.
    const status = await runBizon(['status', config], { cwd: dir, env: cliEnv() });
    expect(status.code, status.stderr).toBe(0);
    const minute = (iso: string) => iso.replace('T', ' ').slice(0, 19);
    expect(status.stdout).toContain(`Watermark per partition of stream 'comments' (${POSTS} partitions`);
    expect(status.stdout).toContain(`  ${minute(secondRun)}  3, 9\n`);
    expect(status.stdout).toContain(`  ${minute(firstRun)}  ${[1, 2, 4, 5, 6, 7, 8, 10, 11, 12].join(', ')}\n`);

    // Run 3 reads every parent (parents: all): each one's comments from its own watermark; one more comment on post 5.
    await patch('comments', { id: 1001, postId: 5, body: 'newer', updatedAt: new Date().toISOString() }, 'POST');
    mark = requests.length;
    const third = await runBizon(['run', configOf({ parents: 'all' })], { cwd: dir, env: cliEnv() });
    expect(third.code, third.stderr).toBe(0);
    expect(since(mark).filter((request) => request.path === '/posts' && request.query.has('_page')).every((request) => !request.query.has('updatedAt_gte'))).toBe(true);
    const asked = new Map(childRequests(mark).map((request) => [postOf(request), request.query.get('updatedAt_gte')]));
    expect(asked.size).toBe(POSTS);
    for (let post = 1; post <= POSTS; post += 1) expect(asked.get(post), `post ${post}`).toBe(post === 3 || post === 9 ? secondRun : firstRun);
    expect(readRows(path.join(dir, 'rest_comments.jsonl')).slice(POSTS * COMMENTS_PER_POST + 1).map((row) => row.source_record_id)).toEqual(['1001']);
  });

  it('a worker killed in the middle of the fan-out: a new one finishes it without listing the parents again or reading a finished parent twice', async () => {
    const dir = tempDir();
    const taskQueue = unique('fan-out');
    const client = await testClient();
    const workers: ChildProcess[] = [];
    const comments = ((await (await fetch(`${baseUrl}/comments`)).json()) as unknown[]).length;
    const mark = requests.length;
    // One parent at a time: posts 1–6 are done when the worker is killed in the middle of post 7.
    const held = server.hold((requested) => requested === '/posts/7/comments');
    try {
      workers.push(spawnWorker(taskQueue));
      const sync = await startSync(client, {
        config: {
          name: unique('fan-out'),
          source: { name: 'rest', stream: 'comments', base_url: baseUrl, paginator: PAGED, endpoints: { posts: { path: '/posts' }, comments: { parent: 'posts', path: '/posts/{{ parent.id }}/comments', parent_concurrency: 1 } } },
          destination: { name: 'file', config: { directory: dir } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' } },
        },
        taskQueue,
      });
      await held.reached;
      workers[0]!.kill('SIGKILL');
      const killedAt = Date.now();
      held.release();
      workers.push(spawnWorker(taskQueue));
      const result = (await sync.handle.result()) as SyncResult;

      expect(result.records).toBe(comments);
      expect(result.slices).toBe(POSTS);
      const ids = readRows(path.join(dir, 'rest_comments.jsonl')).map((row) => row.source_record_id);
      expect(ids).toHaveLength(comments);
      expect(new Set(ids).size).toBe(comments);
      // The parents were listed once, before the kill (checkConnection's first page, then pages 1–3).
      const listings = since(mark).filter((request) => request.path === '/posts');
      expect(listings.map((request) => request.query.get('_page'))).toEqual(['1', '1', '2', '3']);
      expect(listings.every((request) => request.at < killedAt)).toBe(true);
      const childrenOf = (post: number) => childRequests(mark).filter((request) => postOf(request) === post);
      for (let post = 1; post <= POSTS; post += 1) {
        if (post === 7) expect(childrenOf(post).length).toBeGreaterThanOrEqual(2);
        else expect(childrenOf(post), `post ${post}`).toHaveLength(1);
      }
      for (let post = 8; post <= POSTS; post += 1) expect(childrenOf(post)[0]!.at).toBeGreaterThanOrEqual(killedAt);
    } finally {
      held.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });

  it('a child the API answers 404 for is ignored (response_actions), the others kept; a detail endpoint gives one record', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('details'),
      source: {
        name: 'rest',
        stream: 'details',
        base_url: baseUrl,
        paginator: PAGED,
        endpoints: {
          posts: { path: '/posts' },
          details: { parent: 'posts', path: '/details/{{ parent.id }}', paginator: { type: 'none' }, parent_fields: { post_title: 'title' }, response_actions: [{ status: 404, action: 'ignore' }] },
        },
      },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('details') } },
    });
    const mark = requests.length;
    const result = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(result.code, result.stderr).toBe(0);
    expect(since(mark).filter((request) => request.path.startsWith('/details/'))).toHaveLength(POSTS);
    const rows = readRows(path.join(dir, 'rest_details.jsonl')).map((row) => row.source_data).sort((a, b) => Number(a.id) - Number(b.id));
    expect(rows).toEqual([
      { id: 3, words: 300, post_title: expect.stringMatching(/ 3$/) },
      { id: 5, words: 500, post_title: 'post 5' },
      { id: 8, words: 800, post_title: 'post 8' },
    ]);
  });
});
