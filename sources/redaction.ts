/**
 * Secrets out of every text bizon writes (failures, logs, spans, recordings): each secret in every form it takes
 * on its way out, and the head of one cut by a truncation.
 */

/** axios's encoding of a query parameter: encodeURIComponent, then `: $ ,` left as they are and spaces as `+`. */
function axiosParamForm(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%20/g, '+');
}

/**
 * The forms a secret takes on its way out: as written; URL-encoded as a path segment, as axios sends a query
 * parameter and as a form field; base64 and base64url (Basic auth); JSON-escaped.
 */
export function secretForms(secret: string): string[] {
  const forms = [
    secret,
    encodeURIComponent(secret),
    axiosParamForm(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
    JSON.stringify(secret).slice(1, -1),
  ];
  // Longest first, so a form that contains another is replaced whole.
  return [...new Set(forms)].filter((form) => form.length >= 4).sort((a, b) => b.length - a.length);
}

/** The shortest head of a secret worth hiding where a text was cut. */
const SHORTEST_HEAD = 4;

/**
 * Replaces every form of every secret in `text` with `***`. A text cut short (ending in `…`, as excerpts are)
 * may end in the head of a secret: that head is hidden too.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  let result = text;
  for (const form of forms) result = result.split(form).join('***');
  if (!result.endsWith('…')) return result;
  const body = result.slice(0, -1);
  // The longest head of any form the text ends in is the one the cut made.
  let head = 0;
  for (const form of forms) {
    for (let length = Math.min(form.length - 1, body.length); length > Math.max(head, SHORTEST_HEAD - 1); length -= 1) {
      if (body.endsWith(form.slice(0, length))) head = length;
    }
  }
  return head ? `${body.slice(0, -head)}***…` : result;
}
