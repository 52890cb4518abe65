import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';

/** For every response of the API's origin that sets no policy of its own (all but the console's page): nothing in it runs or loads. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * What the API's origin (which the console shares) will serve: no preview
 * host (a proxy that sends `<token>.<preview domain>` here is misrouted:
 * previews have a listener of their own), and nothing a browser may render
 * as a page or sniff into one besides the console.
 */
export function registerApiOrigin(app: FastifyInstance, o: { previewDomain: string | undefined }): void {
  const domain = o.previewDomain?.toLowerCase();
  if (domain) {
    app.addHook('onRequest', async (request) => {
      const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
      if (host === domain || host.endsWith(`.${domain}`)) {
        throw new AppError(ErrorCode.notFound, 'previews are served on the preview listener (AGENTHOST_PREVIEW_PORT), not on the API’s');
      }
    });
  }
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', API_CSP);
    if (!reply.hasHeader('x-content-type-options')) reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
}
