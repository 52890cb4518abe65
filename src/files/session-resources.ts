import { z } from 'zod';
import { AppError, ErrorCode, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { JsonObject, Store } from '../store/store.js';
import { MountPathError, checkMountPathsDisjoint, resolveMountPath } from './names.js';
import { singleLine } from '../text-rules.js';

/** Resource types the client knows that agenthost does not mount. */
const UNSUPPORTED = ['github_repository', 'memory_store'] as const;

export const fileResourceParams = z
  .object({
    type: z.literal('file'),
    file_id: singleLine(z.string().min(1).max(200)),
    mount_path: singleLine(z.string().max(4096)).nullable().optional(),
  })
  .strict();

export type FileResourceParams = z.infer<typeof fileResourceParams>;

/** One entry of a session's `resources` (BetaManagedAgentsFileResourceParams); other types get a clear 400. */
export const sessionResourceParams = z.unknown().transform((value, ctx): FileResourceParams => {
  const type = (value as { type?: unknown } | null)?.type;
  if ((UNSUPPORTED as readonly unknown[]).includes(type)) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `${String(type)} resources are not supported by agenthost; only file resources are` });
    return z.NEVER;
  }
  if (type !== 'file') {
    ctx.addIssue({ code: 'custom', path: ['type'], message: 'expected a file resource ({ type: "file", file_id, mount_path? })' });
    return z.NEVER;
  }
  const parsed = fileResourceParams.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message });
    return z.NEVER;
  }
  return parsed.data;
});

/** A file resource as stored on the session body and shown by the API (BetaManagedAgentsFileResource). */
export type FileResource = {
  id: string;
  type: 'file';
  file_id: string;
  /** Relative to the session's working directory, normalized (see `resolveMountPath`). */
  mount_path: string;
  created_at: string;
  updated_at: string;
};

/**
 * Checks every requested resource against the workspace's files and turns
 * it into what the session stores: unknown files are 404, expired ones 404
 * with `file_expired`, bad or colliding mount paths 400. Writes nothing.
 */
export async function resolveSessionResources(store: Store, workspaceId: string, params: readonly FileResourceParams[], at: string): Promise<FileResource[]> {
  const resources: FileResource[] = [];
  for (const [i, p] of params.entries()) {
    const file = await store.getFile(workspaceId, p.file_id);
    if (!file) throw notFound('file', p.file_id);
    if (file.expiresAt !== null && Date.parse(file.expiresAt) <= Date.parse(at)) {
      throw new AppError(ErrorCode.notFound, `file ${JSON.stringify(p.file_id)} expired at ${file.expiresAt}`, { error_code: 'file_expired' });
    }
    let mountPath: string;
    try {
      mountPath = resolveMountPath(p.mount_path, file.filename);
    } catch (error) {
      if (error instanceof MountPathError) throw invalid(`resources.${i}.mount_path: ${error.message}`);
      throw error;
    }
    resources.push({ id: newId('sesrsc'), type: 'file', file_id: file.id, mount_path: mountPath, created_at: at, updated_at: at });
  }
  try {
    checkMountPathsDisjoint(resources.map((r) => r.mount_path));
  } catch (error) {
    if (error instanceof MountPathError) throw invalid(`resources: ${error.message}`);
    throw error;
  }
  return resources;
}

/** The file resources stored on a session body; anything malformed is left out. */
export function fileResourcesOf(body: JsonObject): FileResource[] {
  const list = body.resources;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (r): r is FileResource =>
      typeof r === 'object' && r !== null && !Array.isArray(r) && r.type === 'file' && typeof r.file_id === 'string' && typeof r.mount_path === 'string',
  );
}
