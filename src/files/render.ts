import type { FileRecord, JsonObject } from '../store/store.js';

/** A file as the API shows it (BetaFileMetadata). Every file agenthost holds is downloadable. */
export function renderFile(f: FileRecord): JsonObject {
  return {
    id: f.id,
    type: 'file',
    filename: f.filename,
    mime_type: f.mimeType,
    size_bytes: f.sizeBytes,
    created_at: f.createdAt,
    downloadable: true,
    expires_at: f.expiresAt,
    scope: f.scopeId ? { id: f.scopeId, type: 'session' } : null,
  };
}
