import type { FastifyInstance } from 'fastify';
import type { TriggerService } from '../../triggers/service.js';
import { SIGNATURE_HEADER } from '../../triggers/signature.js';

/** Largest webhook body; larger ones get 413. */
export const HOOK_BODY_LIMIT = 256 * 1024;

/**
 * `POST /hooks/{trigger_id}`: the public URL of a webhook trigger. It needs
 * no API key: the signature over the raw body is the credential, so the body
 * is read as bytes, whatever its content type, and never parsed here.
 */
export async function registerHookRoutes(app: FastifyInstance, triggers: TriggerService): Promise<void> {
  await app.register(async (hooks) => {
    // Encapsulated: only this plugin reads bodies raw.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

    hooks.post<{ Params: { trigger_id: string } }>('/hooks/:trigger_id', { bodyLimit: HOOK_BODY_LIMIT }, async (request, reply) => {
      const header = request.headers[SIGNATURE_HEADER];
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const event = await triggers.deliverWebhook(request.params.trigger_id, Array.isArray(header) ? header.join(',') : header, raw);
      return reply.status(202).send({ type: 'webhook_delivery', trigger_id: request.params.trigger_id, event_id: event.id });
    });
  });
}
