import { extname } from 'node:path';

/**
 * The media types agenthost names by extension: enough for the files agents
 * usually read and write. Anything else is application/octet-stream.
 */
const BY_EXTENSION: Record<string, string> = {
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.xml': 'application/xml',
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.js': 'text/javascript',
  '.ts': 'text/x-typescript',
  '.py': 'text/x-python',
  '.sh': 'application/x-sh',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

export const OCTET_STREAM = 'application/octet-stream';

/** The media type for a file name, by its extension. */
export function mimeTypeFor(filename: string): string {
  return BY_EXTENSION[extname(filename).toLowerCase()] ?? OCTET_STREAM;
}

/** The usual extension (with the dot) of a media type, or '' when it has none here. */
export function extensionFor(mimeType: string): string {
  const bare = mimeType.split(';')[0]!.trim().toLowerCase();
  if (bare === 'text/plain') return '.txt';
  if (bare === 'image/jpeg') return '.jpg';
  if (bare === 'text/html') return '.html';
  if (bare === 'application/yaml') return '.yaml';
  for (const [ext, type] of Object.entries(BY_EXTENSION)) if (type === bare) return ext;
  return '';
}

/** A syntactically valid `type/subtype` (parameters allowed), or null. */
export function validMimeType(value: string | undefined): string | null {
  if (!value) return null;
  const trimmed = value.trim();
  return /^[A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$/.test(trimmed) && trimmed.length <= 255 ? trimmed : null;
}
