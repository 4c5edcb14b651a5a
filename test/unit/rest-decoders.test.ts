import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody } from '../../sources/rest-decoders.ts';

describe("the rest source's decoders", () => {
  it('a gzip body that unzips past max_response_mb fails, without filling the memory', () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(() => decodeBody(bomb, 'jsonl', { maxBytes: 1024 * 1024 }, 'GET /x.gz')).toThrow("The gzip'd body of GET /x.gz unzips to more than 1 MB (api_config.max_response_mb)");
  });

  it('CSV with another delimiter, a byte-order mark and blank lines', () => {
    expect(decodeBody(Buffer.from('\uFEFFid;name\r\n1;a\r\n\r\n2;b\r\n'), 'csv', { maxBytes: 1024, delimiter: ';' }, 'GET /x')).toEqual([
      { id: '1', name: 'a' },
      { id: '2', name: 'b' },
    ]);
  });

  it('a CSV row with more fields than the header names the problem', () => {
    expect(() => decodeBody(Buffer.from('id,name\n1,a,extra\n'), 'csv', { maxBytes: 1024 }, 'GET /x.csv')).toThrow("The body of GET /x.csv is not CSV (decoder: csv): Invalid Record Length: columns length is 2, got 3 on line 2");
  });
});
