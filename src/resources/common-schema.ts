import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { JsonObject } from '../store/store.js';
import { singleLine, singleLineKeys } from '../text-rules.js';

/**
 * Pieces shared by the agent and environment schemas: names, descriptions,
 * metadata bags and permission policies, with the limits the API documents.
 */

export const NAME_MAX = 256;
export const DESCRIPTION_MAX = 2048;
export const METADATA_MAX_KEYS = 16;
export const METADATA_KEY_MAX = 64;
export const METADATA_VALUE_MAX = 512;

export const nameSchema = singleLine(z.string().min(1).max(NAME_MAX)).refine((s) => s.trim().length > 0, 'must not be blank');

export const descriptionSchema = z.string().max(DESCRIPTION_MAX);

const metadataKey = z.string().min(1).max(METADATA_KEY_MAX);
const metadataValue = singleLine(z.string().max(METADATA_VALUE_MAX));

/** A whole metadata bag, as sent on create. Keys and values are single lines (see `text-rules.ts`). */
export const metadataSchema = singleLineKeys(z.record(metadataKey, metadataValue)).refine(
  (m) => Object.keys(m).length <= METADATA_MAX_KEYS,
  `at most ${METADATA_MAX_KEYS} keys`,
);

/** A metadata patch, as sent on update: a null value deletes the key. */
export const metadataPatchSchema = singleLineKeys(z.record(metadataKey, metadataValue.nullable()));

/**
 * Applies a metadata patch. `deleteEmpty` makes an empty string delete the key
 * too (environments document that; agents do not). The result is checked
 * against the key limit, since the limit is on the stored bag.
 */
export function applyMetadataPatch(
  current: Record<string, string>,
  patch: Record<string, string | null>,
  options: { deleteEmpty: boolean },
): Record<string, string> {
  const next: Record<string, string> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || (options.deleteEmpty && value === '')) delete next[key];
    else next[key] = value;
  }
  if (Object.keys(next).length > METADATA_MAX_KEYS) {
    throw invalid(`metadata: at most ${METADATA_MAX_KEYS} keys may be stored; this update would leave ${Object.keys(next).length}`);
  }
  return next;
}

export const permissionPolicySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('always_allow') }),
  z.strictObject({ type: z.literal('always_ask') }),
  z.strictObject({ type: z.literal('auto') }),
]);

export type PermissionPolicy = z.infer<typeof permissionPolicySchema>;

/**
 * Parses a request body against a strict schema. Anything but a JSON object
 * is refused up front, so the message says so instead of "expected object".
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('request body must be a JSON object');
  }
  return schema.parse(body);
}

/**
 * Structural equality of two JSON bodies; key order does not matter. Both
 * sides are plain JSON (see `toJson`), so there are no `undefined` members to
 * tell apart from absent ones.
 */
export function sameBody(a: JsonObject, b: JsonObject): boolean {
  return isDeepStrictEqual(a, b);
}

/** Drops `undefined` members so a body is plain JSON before it is stored. */
export function toJson<T>(value: T): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}
