import { z } from 'zod';
import { invalid } from './errors.js';

/**
 * What text the API stores, the same on SQLite and PostgreSQL.
 *
 * Everywhere (every string and every object key of a request body): no NUL
 * and no unpaired surrogate. PostgreSQL cannot hold NUL in text, and an
 * unpaired surrogate has no UTF-8 form, so neither could be stored and handed
 * back as it was sent on both databases.
 *
 * Single-line fields (names, titles, metadata keys and values, filenames,
 * URLs, identifiers): additionally no C0 or C1 control character (line breaks
 * and tabs included), no DEL, no line or paragraph separator and no
 * bidirectional embedding, override or isolate, which would make a name show
 * as something other than what it is (`invoice\u202Efdp.exe`).
 *
 * Multi-line text (system prompts, descriptions, message text, templates)
 * keeps everything else as sent, ESC and CR included.
 */

// Without the u flag a regex sees UTF-16 code units, so a surrogate without its partner shows.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `s` cannot be stored faithfully on both databases, or null when it can. */
export function unstorableText(s: string): string | null {
  if (s.includes('\u0000')) return 'contains U+0000 (NUL), which is not accepted in text';
  const lone = LONE_SURROGATE.exec(s);
  if (lone) return `contains an unpaired surrogate (${codePoint(lone[0])}); text must be well-formed Unicode`;
  return null;
}

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides and isolates.
const NOT_SINGLE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Why `s` is not a single line of plain text, or null when it is. */
export function notSingleLine(s: string): string | null {
  const storable = unstorableText(s);
  if (storable) return storable;
  const match = NOT_SINGLE_LINE.exec(s);
  if (!match) return null;
  const ch = match[0];
  const what = /[\u2028\u2029]/.test(ch) ? 'a line break' : /[\u202a-\u202e\u2066-\u2069]/.test(ch) ? 'a bidirectional control' : 'a control character';
  return `contains ${codePoint(ch)}, ${what}; this field is a single line of text without control characters`;
}

/** `schema` with the single-line rule: a 400 naming the field when broken. */
export function singleLine<T extends z.ZodType<string | null | undefined>>(schema: T): T {
  return schema.superRefine((value, ctx) => {
    const why = typeof value === 'string' ? notSingleLine(value) : null;
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });
}

/**
 * `schema` (a record) whose keys follow the single-line rule; the message
 * shows a refused key escaped, never its raw control characters.
 */
export function singleLineKeys<T extends z.ZodType<Record<string, unknown> | null | undefined>>(schema: T): T {
  return schema.superRefine((value, ctx) => {
    for (const key of Object.keys(value ?? {})) {
      const why = notSingleLine(key);
      if (why) ctx.addIssue({ code: 'custom', message: `key ${printable(key)} ${why}` });
    }
  });
}

/** `s` quoted, with every character the single-line rule refuses shown as an escape (JSON escapes C0 and lone surrogates itself). */
export function printable(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Walks a parsed JSON request body and throws a 400 naming the first string
 * (or object key) that `unstorableText` refuses: `events.0.content.0.text: ...`.
 */
export function checkStorableJson(value: unknown, path = ''): void {
  if (typeof value === 'string') {
    const why = unstorableText(value);
    if (why) throw invalid(path ? `${path}: ${why}` : `request body ${why}`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkStorableJson(item, path ? `${path}.${i}` : String(i)));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyWhy = unstorableText(key);
    if (keyWhy) throw invalid(`${path || 'request body'}: a key ${keyWhy}`);
    checkStorableJson(item, path ? `${path}.${key}` : key);
  }
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
