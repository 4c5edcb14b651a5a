/**
 * Bodies that are not one JSON document: JSON Lines, CSV, XML — any of them gzip'd (a `.gz` export, not only a
 * `Content-Encoding: gzip` answer, which the HTTP client already decodes). Parsed by maintained libraries.
 */
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import { NonRetryableError } from '../errors.ts';

/** How a stream's response bodies are read. */
export type Decoder = 'json' | 'jsonl' | 'csv' | 'xml';

/** Options of the decoders that have some. */
export interface DecoderOptions {
  /** CSV: the field delimiter (default `,`). */
  delimiter?: string;
  /** The most a body may take once unzipped, in bytes (a zip bomb fails, it does not fill the memory). */
  maxBytes: number;
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, textNodeName: 'text' });

/** Whether a body starts as gzip does (1f 8b). */
function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

/**
 * The body decoded: JSON as it is, JSON Lines as an array of its lines' values, CSV as an array of objects keyed by
 * the header row (values are strings), XML as an object (attributes as fields). `where` names the request in errors.
 */
export function decodeBody(raw: ArrayBuffer | Buffer, decoder: Decoder, options: DecoderOptions, where: string): unknown {
  let body = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  if (isGzip(body)) {
    try {
      body = gunzipSync(body, { maxOutputLength: options.maxBytes });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const why = code === 'ERR_BUFFER_TOO_LARGE' ? `unzips to more than ${Math.round(options.maxBytes / 1024 / 1024)} MB (api_config.max_response_mb)` : `is not valid gzip (${(error as Error).message})`;
      throw new NonRetryableError(`The gzip'd body of ${where} ${why}`);
    }
  }
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  try {
    switch (decoder) {
      case 'json':
        return text.trim() === '' ? null : JSON.parse(text);
      case 'jsonl':
        return text.split(/\r?\n/).flatMap((line, index) => {
          if (line.trim() === '') return [];
          try {
            return [JSON.parse(line)];
          } catch (error) {
            throw new Error(`line ${index + 1} is not JSON (${(error as Error).message})`);
          }
        });
      case 'csv':
        return parseCsv(text, { columns: true, skip_empty_lines: true, delimiter: options.delimiter ?? ',', bom: true });
      case 'xml':
        return xml.parse(text, true);
    }
  } catch (error) {
    throw new NonRetryableError(`The body of ${where} is not ${decoder === 'jsonl' ? 'JSON Lines' : decoder.toUpperCase()} (decoder: ${decoder}): ${(error as Error).message}`);
  }
}
