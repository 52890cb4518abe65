/**
 * The gateway's own answer to a rehearsal: the one turn a warm sandbox runs
 * before any session owns it (see `LiveSession.rehearse`). Nothing goes
 * upstream and nothing is metered; the answer is the smallest complete
 * message, as JSON or as the Messages API's event stream, whichever the CLI
 * asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newId } from '../ids.js';

/** What a rehearsed model call answers. */
export const REHEARSAL_REPLY = 'ready';

/** Answers one request of a rehearsing session; the body is read (and dropped) first. */
export async function answerRehearsal(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  let body = '';
  for await (const chunk of req) body += (chunk as Buffer).toString('utf8');
  if (path === '/v1/messages/count_tokens') return json(res, { input_tokens: 0 });
  let request: { model?: unknown; stream?: unknown } = {};
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    // Answered all the same: a rehearsal is not the place to argue about the request.
  }
  const model = typeof request.model === 'string' ? request.model : 'unknown';
  const message = {
    id: newId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: REHEARSAL_REPLY }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
  if (request.stream !== true) return json(res, message);
  const frame = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const sse =
    frame('message_start', { message: { ...message, content: [], stop_reason: null } }) +
    frame('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
    frame('content_block_delta', { index: 0, delta: { type: 'text_delta', text: REHEARSAL_REPLY } }) +
    frame('content_block_stop', { index: 0 }) +
    frame('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 0 } }) +
    frame('message_stop', {});
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(sse) });
  res.end(sse);
}

function json(res: ServerResponse, value: object): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
