import type { BrokerClient } from './client.js';

/**
 * The activity event stream's transport: `GET /v2beta1/events/activities` through the SDK's
 * `subscribeToActivitiesSSERaw` (the plain call parses the SSE body as JSON and fails), its body read
 * as server-sent events. What the messages mean is activity-event-adapter.ts's; when to connect, from
 * where, and what a comment makes of the connection, sync/event-stream.ts's.
 */

/** One SSE item: a message's data (its `data:` lines joined), or a comment line (`: …`) as it comes. */
export type SseItem = { type: 'data'; data: string } | { type: 'comment'; text: string };

/**
 * Server-sent events from a body (WHATWG "event stream interpretation", the parts Alpaca uses): lines
 * end in LF, CRLF or CR; a blank line ends a message; `data:` lines (one leading space dropped) make
 * its data; a line starting with `:` is a comment, handed on at once (a slow-reader comment must stop
 * the reader before the messages after it). Other fields (`id`, `event`, `retry`) are not used.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const line = function* (text: string): Generator<SseItem> {
    if (text === '') {
      if (data.length > 0) yield { type: 'data', data: data.join('\n') };
      data = [];
    } else if (text.startsWith(':')) {
      yield { type: 'comment', text: text.slice(1).trim() };
    } else if (text.startsWith('data')) {
      const rest = text.slice(4);
      if (rest === '' || rest.startsWith(':')) data.push(rest.startsWith(': ') ? rest.slice(2) : rest.slice(1));
    }
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: RegExpExecArray | null;
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    // A CR at the very end may be half of a CRLF: wait for the next chunk.
    while ((cut = eol.exec(buffer)) !== null && !(cut[0] === '\r' && cut.index === buffer.length - 1)) {
      yield* line(buffer.slice(start, cut.index));
      start = cut.index + cut[0].length;
    }
    buffer = buffer.slice(start);
  }
}

/** An open stream: its items, and how to end it (the reading then ends, the connection is let go). */
export interface OpenActivityEvents {
  items: AsyncGenerator<SseItem>;
  close(): void;
}

/**
 * Opens the stream after `sinceId` (exclusive; null: live only, no history). Resolves once the server
 * answered 2xx; a refusal throws the SDK's typed error (NotFoundError for a 404, …). Aborting `signal`
 * while it opens gives up. The body is read through our own reader, and `close()` cancels it: a read
 * waiting on the socket then ends at once (an abort of the fetch alone was seen to leave such a read
 * waiting forever, on a process whose event loop had been busy when the stream opened).
 */
export async function openActivityEvents(client: BrokerClient, sinceId: string | null, signal: AbortSignal): Promise<OpenActivityEvents> {
  return openActivityEventsFor(client, sinceId === null ? {} : { sinceId }, signal);
}

/** The same, for a window of history (`since`/`until`: it ends after it) or any other query the endpoint takes. */
export async function openActivityEventsFor(
  client: BrokerClient,
  query: { since?: Date; until?: Date; sinceId?: string; untilId?: string },
  signal: AbortSignal,
): Promise<OpenActivityEvents> {
  const res = await client.events.subscribeToActivitiesSSERaw(query, { signal });
  const body = res.raw.body;
  if (!body) throw new Error('activity event stream: no body');
  const reader = body.getReader();
  const chunks = async function* (): AsyncGenerator<Uint8Array> {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  };
  return { items: readSse(chunks()), close: () => void reader.cancel().catch(() => {}) };
}
