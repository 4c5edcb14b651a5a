// The declarative source against REST servers that are not ours, installed from the registries as a user would meet
// them: json-server (npm), its paging, its filters, its data changed by another client.
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, readRows, ROOT, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';
import { startJsonServer, type JsonServer, type JsonServerRequest } from '../json-server.ts';

const POSTS = 25;
let server: JsonServer;
let baseUrl: string;
let requests: JsonServerRequest[];

beforeAll(async () => {
  // Exports a user meets beside an API: a CSV, a gzip'd JSON Lines file, an XML feed, served as static files.
  const files = tempDir();
  writeFileSync(path.join(files, 'people.csv'), ['id,name,note', ...Array.from({ length: 6 }, (_, index) => `${index + 1},person ${index + 1},"says ""hi"", twice"`)].join('\r\n'));
  writeFileSync(path.join(files, 'events.jsonl.gz'), gzipSync(Array.from({ length: 5 }, (_, index) => JSON.stringify({ id: `e${index + 1}`, kind: 'click', at: index })).join('\n')));
  writeFileSync(path.join(files, 'feed.xml'), `<?xml version="1.0"?><feed><entry id="1"><title>one</title></entry><entry id="2"><title>two &amp; more</title></entry></feed>`);
  server = await startJsonServer(
    {
      posts: Array.from({ length: POSTS }, (_, index) => ({
        id: index + 1,
        title: `post ${index + 1}`,
        updatedAt: new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString(),
        email: `user${index + 1}@example.com`,
        phone: `+33 6 12 34 56 ${String(index + 1).padStart(2, '0')}`,
        draft: (index + 1) % 5 === 0,
      })),
    },
    { staticDir: files },
  );
  ({ url: baseUrl, requests } = server);
});
afterAll(async () => server?.close());

describe('json-server (npm), a REST server that is not ours', () => {
  it('pages by its _page and _limit; run 2 asks with a templated updatedAt_gte for what another client changed, and gets only that', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server'),
      source: {
        name: 'rest',
        stream: 'posts',
        base_url: baseUrl,
        sync_mode: 'incremental',
        cursor_field: 'updatedAt',
        endpoints: { posts: { path: '/posts', params: { updatedAt_gte: '{{ last_run }}' }, paginator: { type: 'page_number', page_param: '_page', size_param: '_limit', page_size: 10 }, incremental: { cursor_field: 'updatedAt' } } },
      },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-server') } },
    });
    let mark = requests.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`pages: 3 · records: ${POSTS}`);
    const pages = () => requests.slice(mark).filter((request) => request.path === '/posts' && request.query.has('_page'));
    expect(pages().map((request) => [request.query.get('_page'), request.query.get('_limit'), request.query.get('updatedAt_gte')])).toEqual([
      ['1', '10', null],
      ['2', '10', null],
      ['3', '10', null],
    ]);

    // Another client edits two posts.
    for (const id of [3, 17]) await server.send('PATCH', `posts/${id}`, { title: `edited ${id}`, updatedAt: new Date().toISOString() });
    const lastRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;
    mark = requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 2');
    expect(requests.slice(mark).filter((request) => request.path === '/posts').at(-1)!.query.get('updatedAt_gte')).toBe(lastRun);
    const rows = readRows(path.join(dir, 'rest_posts.jsonl'));
    expect(rows).toHaveLength(POSTS + 2);
    expect(rows.slice(POSTS).map((row) => [row.source_record_id, (row.source_data as { title: string }).title])).toEqual([
      ['3', 'edited 3'],
      ['17', 'edited 17'],
    ]);
  });

  it("follows its Link header when the source's own params name the first page: the page the link moves on to is the API's, never sent back as page 1", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server-link'),
      source: { name: 'rest', stream: 'posts', base_url: baseUrl, endpoints: { posts: { path: '/posts', params: { _page: 1, _limit: 10 }, paginator: { type: 'link_header' } } } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-server-link') } },
    });
    const mark = requests.length;
    const result = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`pages: 3 · records: ${POSTS}`);
    const pages = requests.slice(mark).filter((request) => request.path === '/posts').map((request) => [request.query.get('_page'), request.query.getAll('_limit').join(',')]);
    // checkConnection() asks page 1 too; then pages 1, 2, 3, each with one _limit.
    expect(pages).toEqual([
      ['1', '10'],
      ['1', '10'],
      ['2', '10'],
      ['3', '10'],
    ]);
    expect(readRows(path.join(dir, 'rest_posts.jsonl')).map((row) => Number(row.source_record_id))).toEqual(Array.from({ length: POSTS }, (_, index) => index + 1));
  });

  it("reads a CSV export, a gzip'd JSON Lines file and an XML feed it serves as static files (decoder)", async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server-files'),
      source: {
        name: 'rest',
        streams: ['people', 'events', 'entries'],
        base_url: baseUrl,
        endpoints: {
          people: { path: '/people.csv', decoder: 'csv' },
          events: { path: '/events.jsonl.gz', decoder: 'jsonl' },
          entries: { path: '/feed.xml', decoder: 'xml', record_selector: 'feed.entry' },
        },
      },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-server-files') } },
    });
    const result = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(result.code, result.stderr).toBe(0);
    const data = (stream: string) => readRows(path.join(dir, `rest_${stream}.jsonl`)).map((row) => row.source_data);
    expect(data('people')).toEqual(Array.from({ length: 6 }, (_, index) => ({ id: String(index + 1), name: `person ${index + 1}`, note: 'says "hi", twice' })));
    expect(data('events')).toEqual(Array.from({ length: 5 }, (_, index) => ({ id: `e${index + 1}`, kind: 'click', at: index })));
    expect(data('entries')).toEqual([
      { id: '1', title: 'one' },
      { id: '2', title: 'two & more' },
    ]);
  });

  it('a body its decoder cannot read fails at once, naming the decoder and the request', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server-bad-file'),
      source: { name: 'rest', stream: 'people', base_url: baseUrl, endpoints: { people: { path: '/feed.xml', decoder: 'jsonl' } } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-server-bad-file') } },
    });
    const result = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The body of GET ${baseUrl}/feed.xml is not JSON Lines (decoder: jsonl): line 1 is not JSON`);
    expect(result.stderr).not.toContain('attempt 2');
  });

  it('functions of your own where YAML stops: a paginator (its _start/_end), an authenticator signing each request; and transforms of every kind', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server-functions'),
      source: {
        name: 'rest',
        stream: 'posts',
        base_url: baseUrl,
        authentication: { type: 'custom', params: { function: 'hmac_path', key: 'BIZON_ENV_SIGNING_KEY' } },
        endpoints: { posts: { path: '/posts', paginator: { type: 'custom', function: 'by_position', options: { size: 10 } } } },
      },
      transforms: [
        { filter: '{{ record.id != 7 }}' },
        { function: 'scrub' },
        { hash: { fields: ['email'], salt: 'BIZON_ENV_HASH_SALT' } },
        { mask: { fields: ['phone'], keep_last: 2 } },
        { rename_fields: { title: 'headline' } },
        { cast: { id: 'string' } },
        { add_fields: { label: '{{ record.headline }} ({{ stream }})', source_system: 'json-server' } },
        { remove_fields: ['updatedAt'] },
      ],
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-server-functions') } },
    });
    const functions = path.join(ROOT, 'test', 'fixtures', 'rest_functions.ts');
    const mark = requests.length;
    const result = await runBizon(['run', config, '--custom-source', functions], { cwd: dir, env: cliEnv({ BIZON_ENV_SIGNING_KEY: 'signing-key', BIZON_ENV_HASH_SALT: 'salt-of-the-earth' }) });
    expect(result.code, result.stderr).toBe(0);
    // Paged by the paginator's _start/_end (after checkConnection's plain look), every request signed.
    const sent = requests.slice(mark).filter((request) => request.path === '/posts');
    expect(sent.map((request) => request.query.get('_start'))).toEqual([null, '0', '10', '20']);
    for (const request of sent) expect(request.headers['x-signature']).toBe(createHmac('sha256', 'signing-key').update(request.url).digest('hex'));
    const rows = readRows(path.join(dir, 'rest_posts.jsonl')).map((row) => row.source_data);
    // 25 posts, less post 7 (filter) and the 5 drafts (scrub).
    expect(rows.map((row) => row.id)).toEqual(['1', '2', '3', '4', '6', '8', '9', '11', '12', '13', '14', '16', '17', '18', '19', '21', '22', '23', '24']);
    expect(rows[1]).toEqual({
      id: '2',
      headline: 'post 2',
      email: createHmac('sha256', 'salt-of-the-earth').update('user2@example.com').digest('hex'),
      phone: `${'*'.repeat('+33 6 12 34 56 '.length)}02`,
      draft: false,
      email_domain: 'example.com',
      stream: 'posts',
      label: 'post 2 (posts)',
      source_system: 'json-server',
    });
    expect(result.stderr).not.toContain('salt-of-the-earth');
  });

  it('a transform step with two actions, or a function no file exports, is refused before anything starts', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('json-server-bad-transforms'),
      source: { name: 'rest', stream: 'posts', base_url: baseUrl, endpoints: { posts: { path: '/posts' } } },
      transforms: [{ hash: ['email'], mask: ['phone'] }, { function: 'nowhere' }],
      destination: { name: 'file', config: { directory: dir } },
    });
    const twoActions = await runBizon(['check', config], { cwd: dir, env: cliEnv() });
    expect(twoActions.code).toBe(2);
    expect(twoActions.stderr).toContain('transforms[0]: a step has one action, this one has hash and mask: make them two steps');
    writeConfig(dir, { name: 'x', source: { name: 'rest', stream: 'posts', base_url: baseUrl, endpoints: { posts: { path: '/posts' } } }, transforms: [{ function: 'nowhere' }], destination: { name: 'file', config: { directory: dir } } }, 'missing.yml');
    const missing = await runBizon(['check', path.join(dir, 'missing.yml')], { cwd: dir, env: cliEnv() });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("transforms: no transform function 'nowhere' (none is loaded). Export it with defineTransform('nowhere', (data) => …) from a file given with --custom-source");
  });
});

describe('json-graphql-server (npm), a GraphQL API that is not ours', () => {
  let graphql: Server;
  let graphqlUrl: string;
  const bodies: Array<{ variables: Record<string, unknown> }> = [];
  beforeAll(async () => {
    // Its own express, as its README serves it.
    const local = createRequire(createRequire(import.meta.url).resolve('json-graphql-server/node'));
    const { jsonGraphqlExpress } = local('json-graphql-server/node') as { jsonGraphqlExpress: (data: unknown) => unknown };
    const express = local('express') as { (): { use(...handlers: unknown[]): void; listen(port: number, host: string, ready: () => void): Server }; json(): unknown };
    const app = express();
    app.use('/graphql', express.json(), (request: { body: { variables: Record<string, unknown> } }, _response: unknown, next: () => void) => {
      bodies.push(structuredClone(request.body));
      next();
    });
    app.use('/graphql', jsonGraphqlExpress({ posts: Array.from({ length: POSTS }, (_, index) => ({ id: index + 1, title: `post ${index + 1}`, updated_at: new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString() })) }));
    await new Promise<void>((resolve) => (graphql = app.listen(0, '127.0.0.1', resolve)));
    graphqlUrl = `http://127.0.0.1:${(graphql.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    graphql?.closeAllConnections();
    await new Promise((resolve) => graphql?.close(resolve));
  });

  it('a POST search paginated in its body (variables.page), incremental through a templated filter variable', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('graphql'),
      source: {
        name: 'rest',
        stream: 'posts',
        base_url: graphqlUrl,
        sync_mode: 'incremental',
        cursor_field: 'updated_at',
        endpoints: {
          posts: {
            path: '/graphql',
            method: 'POST',
            body: {
              query: 'query($page: Int, $perPage: Int, $filter: PostFilter) { allPosts(page: $page, perPage: $perPage, sortField: "id", filter: $filter) { id title updated_at } }',
              variables: { filter: { updated_at_gte: '{{ last_run }}' } },
            },
            record_selector: 'data.allPosts',
            paginator: { type: 'page_number', start_page: 0, page_param: 'variables.page', size_param: 'variables.perPage', page_size: 10, inject: 'body' },
            incremental: { cursor_field: 'updated_at' },
          },
        },
      },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('graphql') } },
    });
    let mark = bodies.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`pages: 3 · records: ${POSTS}`);
    // checkConnection's request as written, then pages 0, 1, 2; a full read sends no filter.
    expect(bodies.slice(mark).map((body) => [body.variables.page ?? null, body.variables.perPage ?? null, JSON.stringify(body.variables.filter)])).toEqual([
      [null, null, '{}'],
      [0, 10, '{}'],
      [1, 10, '{}'],
      [2, 10, '{}'],
    ]);
    const lastRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;
    // Another client edits post 3 through a mutation.
    const edit = await fetch(`${graphqlUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `mutation { updatePost(id: "3", title: "edited 3", updated_at: "${new Date().toISOString()}") { id } }` }),
    });
    expect(edit.status).toBe(200);
    mark = bodies.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 1');
    expect(bodies.slice(mark).at(-1)!.variables).toEqual({ filter: { updated_at_gte: lastRun }, page: 0, perPage: 10 });
    expect(readRows(path.join(dir, 'rest_posts.jsonl')).slice(POSTS).map((row) => row.source_data)).toEqual([{ id: '3', title: 'edited 3', updated_at: expect.any(String) }]);
  });
});
