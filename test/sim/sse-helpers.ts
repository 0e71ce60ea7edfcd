/** Reading GET /v2beta1/events/activities with plain fetch: `data:` messages and `:` comments as they come. */
import type { Simulator } from '../../src/sim/index.js';
import { AUTH, type Json } from './helpers.js';

export interface SseStream {
  status: number;
  messages: Json[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Start reading (a stream opened with `paused` reads nothing until then). */
  resume(): void;
  close(): void;
}

export async function openSse(sim: Simulator, query = '', opts: { paused?: boolean } = {}): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(`${sim.url}/v2beta1/events/activities${query}`, { headers: AUTH, signal: ac.signal });
  const messages: Json[] = [];
  const comments: string[] = [];
  let ended = false;
  let buffer = '';
  const parse = (): void => {
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of block.split('\n')) {
        if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)) as Json);
        else if (line.startsWith(':')) comments.push(line.slice(1).trim());
      }
    }
  };
  let start!: () => void;
  const started = new Promise<void>((resolve) => (start = resolve));
  const endedP = (async () => {
    await started;
    if (!res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        parse();
      }
    } catch {
      // aborted by close()
    }
    ended = true;
  })();
  if (!opts.paused) start();
  return {
    status: res.status,
    messages,
    comments,
    ended: endedP,
    isEnded: () => ended,
    resume: () => start(),
    close: () => ac.abort(),
  };
}
