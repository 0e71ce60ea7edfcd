import type { NotificationChannel } from './outbox.js';

/** One notification as a channel sends it. */
export interface OutgoingNotification {
  id: string;
  kind: string;
  /** When it was written (ISO). */
  at: string;
  text: string;
  data: Record<string, unknown>;
}

/** A place notifications go: one request carries a batch; a failed request throws. */
export interface Channel {
  readonly name: NotificationChannel;
  /** The most notifications one request carries. */
  readonly maxBatch: number;
  send(batch: readonly OutgoingNotification[], signal: AbortSignal): Promise<void>;
}

/** A request that failed; `retryAfterMs` when the receiver said how long to wait (Telegram's 429). The message names no secret. */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** What a failed fetch says, without its URL (a Telegram URL carries the bot token). */
export function fetchFailure(channel: string, err: unknown, secrets: readonly string[]): ChannelError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const detail = e?.name === 'TimeoutError' || e?.name === 'AbortError' ? 'timed out' : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
  return new ChannelError(scrub(`${channel} request failed: ${detail}`, secrets));
}

/** Replaces every secret in `text` (a message from a receiver or the network stack may echo one). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}
