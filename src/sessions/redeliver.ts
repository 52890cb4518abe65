import type { EventRecord, Json, JsonObject } from '../store/store.js';
import { internalOf, withInternal } from './session-body.js';

/**
 * Messages a crash kept from Claude Code.
 *
 * A `user.message` is acknowledged once it is committed to the event log,
 * but Claude Code only has it once its transcript does, and the transcript
 * reaches the store a moment later (the Agent SDK mirrors each line after
 * the CLI writes it). A server killed in between leaves a message the user
 * sent and the log shows, but the conversation never saw. After such a
 * restart, the next turn carries those messages again, ahead of the new one,
 * so nothing acknowledged is lost to the agent.
 *
 * Which messages: the ones committed after the last turn that ended
 * normally (`end_turn`) and no later than the restart, whose text is not in
 * any user entry of the transcript. Messages without text (images only) are
 * taken as delivered: nothing can tell them apart.
 */
export function undeliveredMessages(events: readonly EventRecord[], transcript: readonly unknown[] | null, throughSeq: number): JsonObject[] {
  const ordered = [...events].filter((e) => e.seq <= throughSeq).sort((a, b) => a.seq - b.seq);
  let start = 0;
  ordered.forEach((e, i) => {
    if (e.type === 'session.status_idle' && (e.body.stop_reason as JsonObject | undefined)?.type === 'end_turn') start = i + 1;
  });
  const seen = transcriptUserTexts(transcript ?? []);
  return ordered
    .slice(start)
    .filter((e) => e.type === 'user.message')
    .filter((e) => {
      const texts = textsOf(e.body.content);
      return texts.length > 0 && !texts.every((t) => seen.some((s) => s.includes(t)));
    })
    .map((e) => e.body);
}

/**
 * The session body with the mark a commit of a `user.message` or
 * `user.tool_confirmation` leaves: it may not reach Claude Code if the server
 * dies now, even before the session's sandbox starts (its state says nothing
 * yet). Recovery checks the marked sessions and clears the mark.
 */
export function withInputCommitted(body: JsonObject): JsonObject {
  return withInternal(body, { input_committed: true });
}

/** Whether a message or confirmation was committed since the last recovery checked the session. */
export function inputCommitted(body: JsonObject): boolean {
  return internalOf(body).input_committed === true;
}


/** The content a redelivery sends ahead of the new message: a note, then each message's blocks. */
export function redeliveryContent(messages: readonly JsonObject[]): Json[] {
  if (messages.length === 0) return [];
  const note = {
    type: 'text',
    text: `(agenthost restarted before ${messages.length === 1 ? 'this earlier message' : `these ${messages.length} earlier messages`} reached you; ${messages.length === 1 ? 'it follows' : 'they follow'}, then the new one.)`,
  };
  return [note, ...messages.flatMap((m) => (Array.isArray(m.content) ? (m.content as Json[]) : []))];
}

function textsOf(content: unknown): string[] {
  if (typeof content === 'string') return content.trim() ? [content] : [];
  if (!Array.isArray(content)) return [];
  return content.flatMap((b) => {
    const block = b as { type?: unknown; text?: unknown };
    return block.type === 'text' && typeof block.text === 'string' && block.text.trim() ? [block.text] : [];
  });
}

/** Text of every user entry of a Claude Code transcript (JSONL entries: `{ type: 'user', message: { content } }`). */
function transcriptUserTexts(entries: readonly unknown[]): string[] {
  return entries.flatMap((entry) => {
    const e = entry as { type?: unknown; message?: { content?: unknown } };
    return e.type === 'user' ? textsOf(e.message?.content) : [];
  });
}
