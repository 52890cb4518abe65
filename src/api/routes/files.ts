import multipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode, invalid } from '../../errors.js';
import { BlobTooLargeError, type StagedBlob } from '../../files/blobs.js';
import { OCTET_STREAM, mimeTypeFor, validMimeType } from '../../files/mime.js';
import { uploadFilename } from '../../files/names.js';
import { renderFile } from '../../files/render.js';
import type { FileService } from '../../files/service.js';
import { notSingleLine } from '../../text-rules.js';
import { queryArray, toListResponse, toPageQuery } from '../paging.js';

export interface FileRouteDeps {
  files: FileService;
  /** Largest accepted file, bytes; larger uploads get 413. */
  maxUploadBytes: number;
}

const fileParams = z.object({ file_id: z.string().min(1) });

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  page: z.string().min(1).optional().nullable(),
  scope_id: z.string().min(1).max(200).optional(),
});

/** The hosted API's bounds for `expires_in_seconds`: one hour to ninety days. */
const expiresInSeconds = z.coerce.number().int().min(3600).max(7_776_000);

const MAX_IDS = 100;

/**
 * `/v1/files` as `client.beta.files` (and `client.files`) call it: upload
 * (multipart, field `file`, optional `expires_in_seconds`), list (`limit`,
 * `page`, `scope_id`, `ids[]`), metadata, content and delete. Must be
 * registered inside the authenticated `/v1` scope.
 */
export async function registerFileRoutes(app: FastifyInstance, deps: FileRouteDeps): Promise<void> {
  const { files } = deps;
  await app.register(multipart, {
    // The size check is ours (see readUpload): a truncated part, not a thrown error.
    throwFileSizeLimit: false,
    // The `file` part is the file even when it has no filename (the API names it `unnamed`).
    isPartAFile: (fieldName: string | undefined, contentType: string | undefined, fileName: string | undefined) =>
      fieldName === 'file' || contentType === 'application/octet-stream' || fileName !== undefined,
    limits: { fileSize: deps.maxUploadBytes, fields: 10, fieldSize: 1024, parts: 20, headerPairs: 100 },
  });

  app.post('/v1/files', async (request) => {
    const upload = await readUpload(request, files, deps.maxUploadBytes);
    return renderFile(
      await files.create(request.auth.workspaceId, {
        staged: upload.staged,
        filename: upload.filename,
        mimeType: upload.mimeType,
        expiresAt: upload.expiresInSeconds === undefined ? null : new Date(Date.now() + upload.expiresInSeconds * 1000).toISOString(),
      }),
    );
  });

  app.get('/v1/files', async (request) => {
    const raw = request.query as Record<string, unknown>;
    const q = listQuery.parse(raw);
    const ids = queryArray(raw, 'ids');
    if (ids !== undefined) {
      if (q.page || q.limit !== undefined) throw invalid('ids cannot be combined with page or limit');
      const unique = [...new Set(ids)];
      if (unique.length > MAX_IDS) throw invalid(`ids: at most ${MAX_IDS} ids`);
      const page = await files.list(request.auth.workspaceId, {
        limit: Math.max(unique.length, 1),
        order: 'desc',
        ids: unique,
        ...(q.scope_id ? { scopeId: q.scope_id } : {}),
      });
      return toListResponse({ items: page.items, hasMore: false }, false, false, renderFile);
    }
    const { query, reversed } = toPageQuery({ limit: q.limit, page: q.page }, { limit: 20, order: 'desc' });
    const page = await files.list(request.auth.workspaceId, { ...query, ...(q.scope_id ? { scopeId: q.scope_id } : {}) });
    return toListResponse(page, reversed, Boolean(q.page), renderFile);
  });

  app.get('/v1/files/:file_id', async (request) => {
    const { file_id } = fileParams.parse(request.params);
    return renderFile(await files.get(request.auth.workspaceId, file_id));
  });

  app.get('/v1/files/:file_id/content', async (request, reply) => {
    const { file_id } = fileParams.parse(request.params);
    const { file, body } = await files.download(request.auth.workspaceId, file_id);
    return reply
      .type(file.mimeType)
      .header('content-length', String(file.sizeBytes))
      .header('content-disposition', contentDisposition(file.filename))
      .send(body);
  });

  app.delete('/v1/files/:file_id', async (request) => {
    const { file_id } = fileParams.parse(request.params);
    return files.delete(request.auth.workspaceId, file_id);
  });
}

interface Upload {
  staged: StagedBlob;
  filename: string;
  mimeType: string;
  expiresInSeconds: number | undefined;
}

/**
 * Reads the multipart body: exactly one file part named `file`, and
 * optionally the field `expires_in_seconds`, in any order. The file is staged
 * on disk as it arrives; on any failure the staged copy is removed.
 */
async function readUpload(request: FastifyRequest, files: FileService, maxBytes: number): Promise<Upload> {
  if (!request.isMultipart()) {
    throw invalid('upload the file as multipart/form-data with the file in a part named "file"');
  }
  let staged: StagedBlob | undefined;
  let filename: string | undefined;
  let mimeType = OCTET_STREAM;
  let expires: number | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const file = part as MultipartFile;
        if (file.fieldname !== 'file') throw invalid(`unexpected file part ${JSON.stringify(file.fieldname)}; send the file as "file"`);
        if (staged) throw invalid('send exactly one file per upload');
        const badName = file.filename ? notSingleLine(file.filename) : null;
        if (badName) throw invalid(`filename: ${badName}`);
        staged = await files.blobs.stage(file.file, maxBytes);
        if (file.file.truncated) throw tooLarge(maxBytes);
        // A generic or missing type says nothing; the name's extension may.
        const declared = validMimeType(file.mimetype);
        mimeType = declared && declared !== OCTET_STREAM ? declared : mimeTypeFor(uploadFilename(file.filename, OCTET_STREAM));
        filename = uploadFilename(file.filename, mimeType);
      } else {
        const field = part as MultipartValue;
        if (field.fieldname !== 'expires_in_seconds') throw invalid(`unknown field ${JSON.stringify(field.fieldname)}; expected file and expires_in_seconds`);
        const parsed = expiresInSeconds.safeParse(field.value);
        if (!parsed.success) throw invalid('expires_in_seconds: an integer from 3600 (one hour) to 7776000 (ninety days)');
        expires = parsed.data;
      }
    }
  } catch (error) {
    if (staged) await files.blobs.discard(staged);
    throw uploadError(error, maxBytes);
  }
  if (!staged || filename === undefined) throw invalid('no file in the upload: send it in a multipart part named "file"');
  return { staged, filename, mimeType, expiresInSeconds: expires };
}

function tooLarge(maxBytes: number): AppError {
  return new AppError(ErrorCode.requestTooLarge, `the file is larger than this server accepts (${maxBytes} bytes)`);
}

/** Errors while reading the body: ours pass through; a body busboy cannot parse is the client's. */
function uploadError(error: unknown, maxBytes: number): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof BlobTooLargeError) return tooLarge(maxBytes);
  const code = (error as { code?: unknown }).code;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge(maxBytes);
  // The body ended (or the client went away) before the multipart form did.
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') return invalid('the upload ended before its multipart body was complete (truncated upload)');
  if (status === 413) return new AppError(ErrorCode.requestTooLarge, `multipart body has too many parts or fields (${String(code)})`);
  if (typeof status === 'number' && status >= 400 && status < 500) return invalid(`invalid multipart body: ${(error as Error).message}`);
  if (error instanceof Error && /multipart|boundary|terminated early|Unexpected end/i.test(error.message)) {
    return invalid(`invalid multipart body: ${error.message}`);
  }
  return error;
}

/** `attachment` with the name in both the ASCII fallback and RFC 5987 form. */
function contentDisposition(filename: string): string {
  const base = filename.split('/').pop() ?? filename;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}
