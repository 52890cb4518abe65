/**
 * Maps an API validation message onto form fields. agenthost's messages name
 * the field first (`config.sandbox.memory_mib: Too small: ...`) and join
 * several problems with "; ". Each part goes to the form field whose API path
 * is the longest prefix of the part's path; anything else is a form-level
 * error.
 */

export interface FieldErrors {
  /** Field path → message (without the path), several joined with "; ". */
  fields: Record<string, string>;
  /** Messages no field claims. */
  general: string[];
}

const PATH = '[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z0-9_]+)*';
const PART = new RegExp(`^(${PATH}): ([\\s\\S]*)$`);
const SPLIT = new RegExp(`; (?=${PATH}: )`);

/** Splits a message into `{ path, text }` parts; a part without a leading path has `path: null`. */
export function splitApiMessage(message: string): Array<{ path: string | null; text: string }> {
  return message
    .split(SPLIT)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const m = PART.exec(part);
      return m ? { path: m[1]!, text: m[2]! } : { path: null, text: part };
    });
}

/** The field (from `fields`) that owns `path`: equal to it, or its longest dotted prefix. */
export function fieldFor(path: string, fields: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const f of fields) {
    if ((path === f || path.startsWith(`${f}.`)) && (!best || f.length > best.length)) best = f;
  }
  return best;
}

export function mapFieldErrors(message: string, fields: readonly string[]): FieldErrors {
  const out: FieldErrors = { fields: {}, general: [] };
  for (const { path, text } of splitApiMessage(message)) {
    const field = path ? fieldFor(path, fields) : undefined;
    if (!field) {
      out.general.push(path ? `${path}: ${text}` : text);
      continue;
    }
    // Deeper than the field: keep the rest of the path, it says which entry.
    const rest = path && path !== field ? `${path.slice(field.length + 1)}: ` : '';
    const line = `${rest}${text}`;
    const prev = out.fields[field];
    if (prev === undefined) out.fields[field] = line;
    else if (!prev.split('; ').includes(line)) out.fields[field] = `${prev}; ${line}`;
  }
  return out;
}
