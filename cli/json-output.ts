/**
 * `--log-format json` for a whole command: every line it writes, on stdout and on stderr, from start to exit, is
 * one JSON object. The SDK's log lines already are (see logging.ts); bizon's own messages ("Started sync …", the
 * verdict, warnings, errors) and anything else that reaches the streams (Node's warnings) are wrapped here, at the
 * one place every line passes, so no message written later can slip through as plain text.
 */

let jsonOutput = false;

/** Whether this command writes JSON lines (then the live progress display stays off: it redraws lines). */
export function writesJsonLines(): boolean {
  return jsonOutput;
}

/** From now on, each write to stdout or stderr leaves as JSON lines (a JSON line passes unchanged). */
export function writeEveryLineAsJson(): void {
  if (jsonOutput) return;
  jsonOutput = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: string, callback?: (error?: Error | null) => void) => boolean;
    stream.write = ((chunk: string | Uint8Array, encodingOrCallback?: unknown, callback?: unknown) => {
      const done = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as ((error?: Error | null) => void) | undefined;
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return write(asJsonLines(text), done);
    }) as typeof stream.write;
  }
}

/**
 * One write as JSON lines: lines that are JSON objects stay as they are; the others of the same write are one
 * message (a verdict and its indented details belong together), its first line the `message`, the rest `details`.
 */
export function asJsonLines(text: string, now: Date = new Date()): string {
  let out = '';
  let message: string[] = [];
  const flush = () => {
    if (message.length === 0) return;
    const [first = '', ...details] = message;
    out += `${JSON.stringify({ time: now.toISOString(), level: levelOf(first), message: first, ...(details.length ? { details } : {}) })}\n`;
    message = [];
  };
  // eslint-disable-next-line no-control-regex -- terminal redraw codes mean nothing in a log line
  for (const raw of text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/\r?\n|\r/)) {
    const line = raw.trimEnd();
    if (isJsonObject(line)) {
      flush();
      out += `${line}\n`;
    } else if (line.trim() !== '') {
      message.push(line.trim());
    }
  }
  flush();
  return out;
}

function isJsonObject(line: string): boolean {
  if (!line.startsWith('{') || !line.endsWith('}')) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function levelOf(line: string): 'ERROR' | 'WARN' | 'INFO' {
  if (/^(Error\b|✖)/.test(line)) return 'ERROR';
  if (/^(Warning\b|\(node:\d+\) \w*Warning)/.test(line)) return 'WARN';
  return 'INFO';
}
