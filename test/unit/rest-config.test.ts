import { describe, expect, it } from 'vitest';
import { RestSourceConfig } from '../../sources/rest-config.ts';

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
