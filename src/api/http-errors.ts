import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';

/**
 * Answers in the API's shape for what never reaches a route: requests the
 * router refuses and requests node's HTTP parser refuses.
 */

/** The router's bound on a path parameter: longer ones never reach a handler. */
export const MAX_PARAM_LENGTH = 100;

/** For Fastify's `frameworkErrors`: a malformed or over-long path parameter. */
export function frameworkError(error: FastifyError, request: { id: string; method: string; url: string }, reply: FastifyReply): void {
  const path = request.url.split('?')[0] ?? '/';
  const shown = path.length > 200 ? `${path.slice(0, 200)}...` : path;
  let appError: AppError;
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    // A parameter longer than any id names nothing, as an unknown id does.
    appError = new AppError(ErrorCode.notFound, `no such resource: a path parameter of ${request.method} ${shown} is longer than ${MAX_PARAM_LENGTH} characters`);
  } else if (error.code === 'FST_ERR_BAD_URL') {
    appError = new AppError(ErrorCode.invalidRequest, `the path ${shown} is not valid percent-encoding`);
  } else {
    appError = new AppError(ErrorCode.api, 'internal server error', undefined, error);
  }
  void reply.status(appError.status).send(appError.toBody(request.id));
}

/** Connections still reading the body of a request already answered (a 413). */
const answeredEarly = new WeakSet<Socket>();

/**
 * Notes that `req` was answered before its body arrived: until the body has
 * been read, a parse error on its connection (the client giving up on the
 * body) concerns a request that has had its answer, and gets no second one.
 */
export function answeredBeforeBody(req: IncomingMessage): void {
  answeredEarly.add(req.socket);
  req.once('end', () => answeredEarly.delete(req.socket));
}

/**
 * For Fastify's `clientErrorHandler`: answers what node's HTTP parser refused
 * (a NUL or other control character in a header, oversized headers, broken
 * framing) when nothing of an answer has been written yet, then closes the
 * connection, which can no longer be read as HTTP.
 */
export function clientError(error: Error & { code?: string; reason?: string }, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  // A reset has no one to answer; a timeout is a client too slow to read one.
  if (error.code === 'ECONNRESET' || error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable || inFlight?.headersSent || answeredEarly.has(socket)) {
    socket.destroy();
    return;
  }
  const appError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError(ErrorCode.requestTooLarge, 'the request headers are larger than this server accepts (16 KiB)')
      : new AppError(ErrorCode.invalidRequest, `malformed HTTP request: ${(error.reason ?? error.message).replace(/[^\x20-\x7e]/g, '?')}`);
  const body = JSON.stringify(appError.toBody());
  socket.end(
    `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? ''}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-should-retry: false\r\nconnection: close\r\n\r\n${body}`,
  );
  // Nothing more is read: closed once the answer is flushed.
  socket.once('finish', () => socket.destroy());
}
