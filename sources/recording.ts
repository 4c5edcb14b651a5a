import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { redact } from './redaction.ts';
import path from 'node:path';
import axios, { AxiosError, type AxiosAdapter, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { ConfigError } from '../errors.ts';

/** One HTTP exchange as `bizon dry-run --record` saves it: no request headers (they carry credentials). */
export interface RecordedResponse {
  method: string;
  /** Path and query (sorted), without the origin: recordings replay against any base URL. */
  path: string;
  status: number;
  headers: Record<string, string>;
  /** The body as the API sent it. */
  body: string;
}

/** Method and path with the query sorted: how a request finds its recording. */
function requestKey(config: InternalAxiosRequestConfig): { method: string; path: string } {
  const url = new URL(axios.getUri(config), 'http://recorded.invalid');
  url.searchParams.sort();
  return { method: (config.method ?? 'get').toUpperCase(), path: `${url.pathname}${url.search}` };
}

const KEPT_HEADERS = ['content-type', 'retry-after', 'link', 'x-total-count'];

/**
 * Saves every response `session` gets into `dir` (`0001.json`, `0002.json`, …), with the given secret values
 * replaced by `***` wherever they appear (a token in a query string, an echo in a body).
 */
export function recordResponses(session: AxiosInstance, dir: string, secrets: readonly string[] = []): void {
  mkdirSync(dir, { recursive: true });
  const original = axios.getAdapter(session.defaults.adapter);
  let count = readdirSync(dir).filter((name) => /^\d+\.json$/.test(name)).length;
  const hide = (text: string) => redact(text, secrets);
  const save = (config: InternalAxiosRequestConfig, response: AxiosResponse) => {
    const headers = Object.fromEntries(KEPT_HEADERS.flatMap((name) => (response.headers?.[name] !== undefined ? [[name, String(response.headers[name])]] : [])));
    const body = typeof response.data === 'string' ? response.data : JSON.stringify(response.data);
    const recorded: RecordedResponse = { ...requestKey(config), status: response.status, headers, body };
    count += 1;
    writeFileSync(path.join(dir, `${String(count).padStart(4, '0')}.json`), `${hide(JSON.stringify(recorded, null, 2))}\n`);
  };
  session.defaults.adapter = async (config) => {
    try {
      const response = await original(config);
      save(config, response);
      return response;
    } catch (error) {
      if (error instanceof AxiosError && error.response) save(config, error.response);
      throw error;
    }
  };
}

/** The recordings of a directory, in the order they were made. */
export function readRecordings(dir: string): RecordedResponse[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /^\d+\.json$/.test(name)).sort();
  } catch {
    throw new ConfigError(`No recordings in ${dir}: make them with bizon dry-run --record ${dir}`);
  }
  return names.map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as RecordedResponse);
}

/**
 * Answers `session`'s requests from recordings instead of the network: each
 * request gets the next unused recording of the same method and path (the
 * last one again when they are used up). A request nothing was recorded for
 * fails, naming it and what was recorded.
 */
export function replayResponses(session: AxiosInstance, recordings: readonly RecordedResponse[]): void {
  const used = new Map<string, number>();
  const adapter: AxiosAdapter = async (config) => {
    const { method, path: requestPath } = requestKey(config);
    const key = `${method} ${requestPath}`;
    const matching = recordings.filter((recording) => recording.method === method && recording.path === requestPath);
    if (matching.length === 0) {
      const known = [...new Set(recordings.map((recording) => `${recording.method} ${recording.path}`))].slice(0, 5).join(', ');
      throw new ConfigError(`No recorded response for ${key} (recorded: ${known || 'nothing'}${recordings.length > 5 ? ', …' : ''}): record again with bizon dry-run --record`);
    }
    const index = Math.min(used.get(key) ?? 0, matching.length - 1);
    used.set(key, index + 1);
    const recording = matching[index]!;
    const response: AxiosResponse = { data: recording.body, status: recording.status, statusText: String(recording.status), headers: recording.headers, config, request: {} };
    const validate = config.validateStatus ?? ((status: number) => status >= 200 && status < 300);
    if (!validate(recording.status)) {
      throw new AxiosError(`Request failed with status code ${recording.status}`, recording.status >= 500 ? AxiosError.ERR_BAD_RESPONSE : AxiosError.ERR_BAD_REQUEST, config, {}, response);
    }
    return response;
  };
  session.defaults.adapter = adapter;
}
