import { describe, expect, it } from 'vitest';
import { RestSourceConfig } from '../../sources/rest-config.ts';
import { dateWindows } from '../../sources/rest-windows.ts';

/** The problems the config has, as `path: message`. */
function problems(endpoints: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] {
  const parsed = RestSourceConfig.safeParse({ name: 'rest', stream: 'comments', base_url: 'http://127.0.0.1:1', endpoints, ...extra });
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('dependent streams in the rest config', () => {
  it('a parent stream and its template are accepted', () => {
    expect(problems({ posts: { path: '/posts' }, comments: { parent: 'posts', path: '/posts/{{ parent.id }}/comments' } })).toEqual([]);
  });

  it('a parent that is not an endpoint is named, with the endpoints there are', () => {
    expect(problems({ posts: { path: '/posts' }, comments: { parent: 'post', path: '/x' } })).toEqual(["endpoints.comments.parent: 'post' is not one of endpoints (posts, comments)"]);
  });

  it('parents in a circle are refused', () => {
    expect(problems({ posts: { parent: 'comments', path: '/posts' }, comments: { parent: 'posts', path: '/x' } })).toContain('endpoints.comments.parent: parents go round in a circle: comments → posts → comments');
  });

  it('parents: changed needs the parent stream to be incremental', () => {
    expect(problems({ posts: { path: '/posts' }, comments: { parent: 'posts', parents: 'changed', path: '/x' } })).toEqual([
      "endpoints.comments.parents: parents: changed reads the parents that changed, which needs incremental: { cursor_field, … } on stream 'posts'",
    ]);
  });

  it('write_parent in an incremental sync over every parent would append every parent again: refused', () => {
    const endpoints = { posts: { path: '/posts' }, comments: { parent: 'posts', path: '/x', write_parent: true, incremental: { cursor_field: 'at', param: 'since' } } };
    expect(problems(endpoints, { sync_mode: 'incremental' })).toEqual([
      'endpoints.comments.write_parent: write_parent in an incremental sync needs parents: changed: with parents: all, every sync would append every parent again',
    ]);
  });

  it('parent in a template of a stream without one, or source-wide, names what exists', () => {
    const found = problems({ posts: { path: '/posts/{{ parent.id }}' }, comments: { parent: 'posts', path: '/x' } }, { params: { p: '{{ parent.id }}' } });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^params\.p: template "\{\{ parent\.id \}\}" uses 'parent', which does not exist here; the names that do: last_run, run_started_at, cursor, page, offset, config$/);
    expect(found[1]).toMatch(/^endpoints\.posts\.path: .* uses 'parent', which does not exist here/);
  });
});

describe('date windows in the rest config', () => {
  const events = (incremental: Record<string, unknown>) => ({ events: { path: '/events', incremental: { cursor_field: 'at', param: 'since', ...incremental } } });
  const windowProblems = (incremental: Record<string, unknown>) => problems(events(incremental), { stream: 'events' });

  it('a window must send its end: until_param, or run_started_at in a template', () => {
    expect(windowProblems({ window: '7d' })).toEqual(['endpoints.events.incremental.until_param: window and end read up to a time, which the request must send: until_param: updated_before, or run_started_at in a template']);
    expect(windowProblems({ window: '7d', until_param: 'until' })).toEqual([]);
  });

  it('start, end and spans are checked', () => {
    expect(windowProblems({ start: '2026-02-01', end: '2026-01-01', until_param: 'until' })).toEqual(['endpoints.events.incremental.end: end (2026-01-01) must come after start (2026-02-01)']);
    expect(windowProblems({ start: 'yesterday' })).toEqual(['endpoints.events.incremental.start: an ISO 8601 date or time, e.g. 2026-01-01 or 2026-01-01T06:00:00Z']);
    expect(windowProblems({ window: 'a week', until_param: 'until' })).toEqual(['endpoints.events.incremental.window: a span of time of at least 1s, e.g. 7d, 12h, 30m']);
  });
});

describe('the windows a sync reads', () => {
  const at = (iso: string) => new Date(iso);
  it('from the watermark less the lookback to the sync start, window by window; the last one shorter', () => {
    const windows = dateWindows({ cursor_field: 'at', window: '2d', lookback: '1d' }, { lastRun: at('2026-01-05T00:00:00Z') }, at('2026-01-09T12:00:00Z'));
    expect(windows.map((slice) => [slice.window_start, slice.window_end])).toEqual([
      ['2026-01-04T00:00:00.000Z', '2026-01-06T00:00:00.000Z'],
      ['2026-01-06T00:00:00.000Z', '2026-01-08T00:00:00.000Z'],
      ['2026-01-08T00:00:00.000Z', '2026-01-09T12:00:00.000Z'],
    ]);
    expect(windows[0]!.label).toBe('2026-01-04T00:00 → 2026-01-06T00:00');
  });

  it('without a watermark or a start: one slice, everything; past end: nothing', () => {
    expect(dateWindows({ cursor_field: 'at', window: '2d' }, null, at('2026-01-09T00:00:00Z'))).toEqual([{}]);
    expect(dateWindows({ cursor_field: 'at', end: '2026-01-01' }, { lastRun: at('2026-01-02T00:00:00Z') }, at('2026-01-09T00:00:00Z'))).toEqual([]);
  });

  it('more windows than a sync reads fails, saying to widen them', () => {
    expect(() => dateWindows({ cursor_field: 'at', window: '1m', start: '2025-01-01' }, null, at('2026-01-01T00:00:00Z'))).toThrow(/into 525600 windows, more than the 10000 a sync reads: make it wider/);
  });
});
