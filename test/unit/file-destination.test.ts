import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { FileDestination } from '../../destinations/file.ts';
import { NonRetryableError } from '../../errors.ts';
import { writeLinesAtomic } from '../../destinations/page-files.ts';
import type { ValidatedRecord } from '../../sources/iteration.ts';
import { readRows, tempDir } from '../helpers.ts';

function records(from: number, count: number, destinationId?: string): ValidatedRecord[] {
  return Array.from({ length: count }, (_, index) => ({ id: String(from + index), data: { n: from + index }, timestamp: undefined, destinationId }));
}

const extractedAt = new Date('2024-01-01T00:00:00Z');

describe('file destination', () => {
  it('compression: gzip writes <id>.jsonl.gz; an incremental sync appends a member, and gzip readers (zlib, DuckDB) read every record', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir, compression: 'gzip' }, 'users');
    await destination.write({ syncRunId: 'run-1', iteration: 1, extractedAt, records: records(1, 3) });
    expect(await destination.finalize({ syncRunId: 'run-1', mode: 'replace' })).toEqual([{ destinationId: 'users', records: 3, location: path.join(dir, 'users.jsonl.gz') }]);
    await destination.write({ syncRunId: 'run-2', iteration: 1, extractedAt, records: records(4, 2) });
    await destination.finalize({ syncRunId: 'run-2', mode: 'append' });
    const file = path.join(dir, 'users.jsonl.gz');
    const lines = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { source_record_id: string }).source_record_id)).toEqual(['1', '2', '3', '4', '5']);
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const read = (await connection.runAndReadAll(`SELECT count(*) AS n FROM read_json('${file}', format = 'newline_delimited')`)).getRowObjectsJS();
      expect(read).toEqual([{ n: 5n }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('a page written twice (a retried activity) appears once', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'run-1', iteration: 1, extractedAt, records: records(1, 3) });
    await destination.write({ syncRunId: 'run-1', iteration: 2, extractedAt, records: records(4, 3) });
    await destination.write({ syncRunId: 'run-1', iteration: 2, extractedAt, records: records(4, 3) });
    const published = await destination.finalize({ syncRunId: 'run-1', mode: 'replace' });
    expect(published).toEqual([{ destinationId: 'users', records: 6, location: path.join(dir, 'users.jsonl') }]);
    const rows = readRows(path.join(dir, 'users.jsonl'));
    expect(rows.map((row) => row.source_record_id)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(rows[0]).toMatchObject({ bizon_extracted_at: '2024-01-01T00:00:00.000Z', source_timestamp: '2024-01-01T00:00:00.000Z', destination_id: 'users', source_data: { n: 1 } });
    expect(new Set(rows.map((row) => row.bizon_id)).size).toBe(6);
  });

  it('nothing is visible before finalize, and a full refresh replaces the old file', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'users.jsonl'), '{"old":true}\n');
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'run-2', iteration: 1, extractedAt, records: records(1, 2) });
    expect(readFileSync(path.join(dir, 'users.jsonl'), 'utf8')).toBe('{"old":true}\n');
    await destination.finalize({ syncRunId: 'run-2', mode: 'replace' });
    expect(readRows(path.join(dir, 'users.jsonl')).map((row) => row.source_record_id)).toEqual(['1', '2']);
  });

  it('a full refresh of an empty source publishes an empty file', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'users.jsonl'), '{"old":true}\n');
    await new FileDestination({ directory: dir }, 'users').finalize({ syncRunId: 'run-3', mode: 'replace' });
    expect(readFileSync(path.join(dir, 'users.jsonl'), 'utf8')).toBe('');
  });

  it('routes records to one file per destination id', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir }, 'events');
    await destination.write({ syncRunId: 'r', iteration: 1, extractedAt, records: [...records(1, 2, 'clicks'), ...records(3, 1, 'views')] });
    const published = await destination.finalize({ syncRunId: 'r', mode: 'replace' });
    expect(published.map((output) => [output.destinationId, output.records])).toEqual([
      ['clicks', 2],
      ['events', 0],
      ['views', 1],
    ]);
  });

  it('a finalize retried after a crash between its rename and its bookkeeping does not append twice', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'inc', iteration: 1, extractedAt, records: records(1, 2) });
    // The state a crash leaves: the commit record written, the appended file already renamed into place.
    const published = ['0', '1', '2'].map((id) => JSON.stringify({ source_record_id: id })).join('\n') + '\n';
    writeFileSync(path.join(dir, 'users.jsonl'), published);
    const commit = { temporary: path.join(dir, 'users.jsonl.bizon-inc.tmp'), records: 2 };
    writeFileSync(path.join(dir, '.bizon-staging', 'inc', 'pages', 'users', 'commit.json'), JSON.stringify(commit));

    const outputs = await destination.finalize({ syncRunId: 'inc', mode: 'append' });
    expect(outputs).toEqual([{ destinationId: 'users', records: 2, location: path.join(dir, 'users.jsonl') }]);
    expect(readFileSync(path.join(dir, 'users.jsonl'), 'utf8')).toBe(published);
  });

  it('a finalize retried after a crash before its rename finishes the rename', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'users.jsonl'), 'old\n');
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'inc2', iteration: 1, extractedAt, records: records(1, 1) });
    const temporary = path.join(dir, 'users.jsonl.bizon-inc2.tmp');
    writeFileSync(temporary, 'old\nnew\n');
    writeFileSync(path.join(dir, '.bizon-staging', 'inc2', 'pages', 'users', 'commit.json'), JSON.stringify({ temporary, records: 1 }));

    await destination.finalize({ syncRunId: 'inc2', mode: 'append' });
    expect(readFileSync(path.join(dir, 'users.jsonl'), 'utf8')).toBe('old\nnew\n');
    expect(existsSync(temporary)).toBe(false);
  });

  it('a second finalize of a published run returns the same result and changes nothing', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'twice', iteration: 1, extractedAt, records: records(1, 2) });
    const first = await destination.finalize({ syncRunId: 'twice', mode: 'append' });
    const second = await destination.finalize({ syncRunId: 'twice', mode: 'append' });
    expect(second).toEqual(first);
    expect(readRows(path.join(dir, 'users.jsonl'))).toHaveLength(2);
  });

  it('once the published result is held, forgetPublished leaves the directory with the output alone; other runs staging here keep theirs', async () => {
    const dir = tempDir();
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'done', iteration: 1, extractedAt, records: records(1, 2) });
    await destination.write({ syncRunId: 'other', iteration: 1, extractedAt, records: records(5, 1) });
    await destination.finalize({ syncRunId: 'done', mode: 'replace' });
    await destination.forgetPublished({ syncRunId: 'done' });
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(['.bizon-staging', '.bizon-staging/other', '.bizon-staging/other/pages', '.bizon-staging/other/pages/users', '.bizon-staging/other/pages/users/0000000001.jsonl', 'users.jsonl']);
    await destination.finalize({ syncRunId: 'other', mode: 'append' });
    await destination.forgetPublished({ syncRunId: 'other' });
    expect(readdirSync(dir)).toEqual(['users.jsonl']);
    expect(readRows(path.join(dir, 'users.jsonl')).map((row) => row.source_record_id)).toEqual(['1', '2', '5']);
  });

  it('abort discards staged pages and leaves the published file alone', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'users.jsonl'), '{"kept":true}\n');
    const destination = new FileDestination({ directory: dir }, 'users');
    await destination.write({ syncRunId: 'gone', iteration: 1, extractedAt, records: records(1, 2) });
    await destination.abort({ syncRunId: 'gone' });
    expect(readFileSync(path.join(dir, 'users.jsonl'), 'utf8')).toBe('{"kept":true}\n');
    expect(existsSync(path.join(dir, '.bizon-staging'))).toBe(false);
  });

  it('refuses destination ids that would escape the directory', async () => {
    const destination = new FileDestination({ directory: tempDir() }, 'users');
    await expect(destination.write({ syncRunId: 'r', iteration: 1, extractedAt, records: records(1, 1, '../etc/passwd') })).rejects.toThrow(
      "Invalid destination id '../etc/passwd'",
    );
  });

  it('refuses a destination id too long for a file name, at once and for good', async () => {
    const destination = new FileDestination({ directory: tempDir() }, 'users');
    const error = await destination.write({ syncRunId: 'r', iteration: 1, extractedAt, records: records(1, 1, 'x'.repeat(300)) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toContain('is too long for a file name (306 bytes, at most 255): shorten destination_id');
  });

  it('a page file is written whole into a directory made on the way, small in one write and large streamed', async () => {
    const dir = path.join(tempDir(), 'run', 'pages', 'users');
    const small = ['{"n":1}\n', '{"é":2}\n'];
    expect(await writeLinesAtomic(path.join(dir, 'small.jsonl'), small)).toBe(Buffer.byteLength(small.join('')));
    expect(readFileSync(path.join(dir, 'small.jsonl'), 'utf8')).toBe(small.join(''));
    // Over the one-write size, from a generator (as a page's rows are made): every line, in order.
    const line = (index: number) => `${JSON.stringify({ index, pad: 'x'.repeat(1000) })}\n`;
    function* lines() {
      for (let index = 0; index < 3000; index++) yield line(index);
    }
    const bytes = await writeLinesAtomic(path.join(dir, 'large.jsonl'), lines());
    const written = readFileSync(path.join(dir, 'large.jsonl'), 'utf8');
    expect(written).toBe(Array.from({ length: 3000 }, (_, index) => line(index)).join(''));
    expect(bytes).toBe(Buffer.byteLength(written));
    expect(readdirSync(dir).sort()).toEqual(['large.jsonl', 'small.jsonl']);
  });
});

