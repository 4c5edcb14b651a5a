import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { redact, secretForms } from '../../sources/redaction.ts';

// Secrets made of every kind of character, in every form a request or an error gives them, cut anywhere.
const CLASSES = ['abcXYZ', '0123456789', ' ', ':$,[]', '+/=', '?&#%@', "!'()*~", '"\\', 'éß', '😀'];

/** A deterministic stream of secrets: each mixes several classes (a small linear congruential generator). */
function* secrets(count: number): Generator<string> {
  let seed = 20261205;
  const next = (bound: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % bound);
  for (let n = 0; n < count; n += 1) {
    let secret = '';
    const length = 6 + next(20);
    while ([...secret].length < length) {
      const chars = [...CLASSES[next(CLASSES.length)]!];
      secret += chars[next(chars.length)];
    }
    yield secret;
  }
}

/** The texts a secret reaches: a URL axios built with it as a query parameter, a form body, an echo in JSON, a Basic header. */
function textsWith(secret: string): string[] {
  return [
    `GET ${axios.getUri({ url: 'https://api.example.com/v1/items', params: { key: secret, page: 2 } })} failed`,
    `https://api.example.com/${encodeURIComponent(secret)}/items`,
    `body: ${new URLSearchParams({ client_secret: secret }).toString()}`,
    `{"error":"bad token ${JSON.stringify(secret).slice(1, -1)}"}`,
    `Authorization: Basic ${Buffer.from(secret).toString('base64')}`,
    `raw ${secret} end`,
  ];
}

describe('redaction', () => {
  it('no form of a secret survives, for secrets of every character class', () => {
    for (const secret of secrets(300)) {
      for (const text of textsWith(secret)) {
        const redacted = redact(text, [secret]);
        for (const form of secretForms(secret)) expect(redacted, `${JSON.stringify(secret)} in ${text}`).not.toContain(form);
        expect(redacted).toContain('***');
      }
    }
  });

  it('a text cut in the middle of a secret (an excerpt ending in …) keeps none of its head', () => {
    for (const secret of secrets(100)) {
      for (const form of secretForms(secret)) {
        for (let cut = 4; cut < form.length; cut += 1) {
          const redacted = redact(`error body: ${form.slice(0, cut)}…`, [secret]);
          // Only base64 padding may be left after the mark: nothing of the secret itself.
          expect(redacted, `${JSON.stringify(secret)} cut at ${cut} of ${form}`).toMatch(/^error body: \*\*\*=*…$/);
        }
      }
    }
  });
});
