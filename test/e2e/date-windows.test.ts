// Date windows of the declarative source, against json-server from npm (its updatedAt_gte / updatedAt_lte
// filters): a first sync from incremental.start in windows, a lookback that re-reads the recent past into a merged
// DuckDB table without doubling a row, and `bizon backfill` of a range that leaves the watermark where it was.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';
import { startJsonServer, type JsonServer } from '../json-server.ts';
import { queryDuckDB } from '../sql-targets.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const EVENTS = 40;
/** Days the data spans, up to now: the first sync reads them from `start` in 2-day windows. */
const DAYS = 10;
/** A day boundary before the oldest event (windows start there). */
const start = new Date(Math.floor((Date.now() - DAYS * DAY) / DAY) * DAY);
let server: JsonServer;

beforeAll(async () => {
  // Events every 6 hours from start, 17 minutes past: none on a window's edge (json-server's _lte includes it).
  const events = Array.from({ length: EVENTS }, (_, index) => ({ id: index + 1, title: `event ${index + 1}`, updatedAt: new Date(start.getTime() + index * 6 * HOUR + 17 * 60_000).toISOString() }));
  server = await startJsonServer({ events });
});
afterAll(async () => server?.close());

const windowsAsked = (mark: number) =>
  server.requests
    .slice(mark)
    .filter((request) => request.path === '/events' && request.query.has('updatedAt_lte'))
    .map((request) => [request.query.get('updatedAt_gte'), request.query.get('updatedAt_lte')] as const)
    .sort();

describe('date windows of the declarative source on json-server', () => {
  it('reads from start in windows, re-reads a lookback into a merged table without doubling a row, and backfills a range without moving the watermark', async () => {
    const dir = tempDir();
    const database = path.join(dir, 'events.duckdb');
    const name = unique('windows');
    const config = writeConfig(dir, {
      name,
      source: {
        name: 'rest',
        stream: 'events',
        base_url: server.url,
        sync_mode: 'incremental',
        cursor_field: 'updatedAt',
        endpoints: {
          events: {
            path: '/events',
            params: { _sort: 'id' },
            paginator: { type: 'page_number', page_param: '_page', size_param: '_limit', page_size: 10 },
            incremental: { cursor_field: 'updatedAt', param: 'updatedAt_gte', until_param: 'updatedAt_lte', start: start.toISOString(), window: '2d', lookback: '1d' },
          },
        },
      },
      destination: { name: 'duckdb', config: { path: database, write_mode: 'merge' } },
      engine: { temporal: { task_queue: unique('windows') } },
    });
    const rows = async () => (await queryDuckDB(database, 'SELECT source_record_id AS id, count(*) AS copies FROM main.rest_events GROUP BY 1 ORDER BY CAST(source_record_id AS INTEGER)')).map((row) => [Number(row.id), Number(row.copies)]);

    // Run 1: no watermark: from start to the sync's start, 2 days a window, each its own slice.
    let mark = server.requests.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code, first.stderr).toBe(0);
    const firstRun = Date.parse(/watermark: last_run (\S+)/.exec(first.stderr)![1]!);
    const windows = windowsAsked(mark);
    expect(windows[0]![0]).toBe(start.toISOString());
    expect(windows.at(-1)![1]).toBe(new Date(firstRun).toISOString());
    for (let index = 1; index < windows.length; index += 1) expect(windows[index]![0]).toBe(windows[index - 1]![1]);
    expect(new Set(windows.map(([from, to]) => Date.parse(to!) - Date.parse(from!))).size).toBeLessThanOrEqual(2);
    expect(first.stderr).toContain(`read in ${windows.length} slices`);
    expect(await rows()).toEqual(Array.from({ length: EVENTS }, (_, index) => [index + 1, 1]));

    // An event the API shows late (changed 2 hours before run 1 started), and an edit.
    await server.send('POST', 'events', { id: 41, title: 'late', updatedAt: new Date(firstRun - 2 * HOUR).toISOString() });
    await server.send('PATCH', 'events/40', { title: 'edited', updatedAt: new Date().toISOString() });
    mark = server.requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code, second.stderr).toBe(0);
    // From one day (the lookback) before the watermark: the late event is found; what run 1 read again merges.
    expect(windowsAsked(mark).map(([from]) => from)).toEqual([new Date(firstRun - DAY).toISOString()]);
    const reread = Number(/records: (\d+)/.exec(second.stderr)![1]);
    expect(reread).toBeGreaterThan(2);
    expect(await rows()).toEqual(Array.from({ length: EVENTS + 1 }, (_, index) => [index + 1, 1]));
    expect((await queryDuckDB(database, "SELECT source_data->>'title' AS title FROM main.rest_events WHERE source_record_id = '40'"))[0]!.title).toBe('edited');
    const secondRun = Date.parse(/watermark: last_run (\S+)/.exec(second.stderr)![1]!);

    // A backfill of the first four days: its own sync, two windows, merged into the same table; the watermark stays.
    const [from, to] = [start.toISOString(), new Date(start.getTime() + 4 * DAY).toISOString()];
    mark = server.requests.length;
    const backfill = await runBizon(['backfill', config, '--from', from, '--to', to], { cwd: dir, env: cliEnv() });
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(backfill.stderr).toContain(`the watermark of '${name}' does not move`);
    expect(windowsAsked(mark)).toEqual([
      [from, new Date(start.getTime() + 2 * DAY).toISOString()],
      [new Date(start.getTime() + 2 * DAY).toISOString(), to],
    ]);
    expect(backfill.stderr).toContain('records: 16');
    expect(await rows()).toEqual(Array.from({ length: EVENTS + 1 }, (_, index) => [index + 1, 1]));
    mark = server.requests.length;
    const third = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(third.code, third.stderr).toBe(0);
    expect(windowsAsked(mark).map(([windowStart]) => windowStart)).toEqual([new Date(secondRun - DAY).toISOString()]);
  });
});
