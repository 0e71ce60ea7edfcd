import { createHmac } from 'node:crypto';
import { ChannelError, fetchFailure, scrub, type Channel, type OutgoingNotification } from './channel.js';

/**
 * The webhook channel: `POST <CT_WEBHOOK_URL>` with `{"events":[{id, kind, at, text, data}, …]}`,
 * signed in `X-Crazy-Trade-Signature` (hex HMAC-SHA256 of the raw body with CT_WEBHOOK_SECRET). Any
 * 2xx is delivered; anything else is retried. Receivers dedupe by `id`.
 */

export const SIGNATURE_HEADER = 'X-Crazy-Trade-Signature';

export function signBody(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

export function webhookBody(batch: readonly OutgoingNotification[]): string {
  return JSON.stringify({ events: batch.map((n) => ({ id: n.id, kind: n.kind, at: n.at, text: n.text, data: n.data })) });
}

export function webhookChannel(opts: { url: string; secret: string; timeoutMs?: number }): Channel {
  // A webhook URL often carries a token of its own: never in a message either.
  const secrets = [opts.secret, opts.url];
  return {
    name: 'webhook',
    maxBatch: 100,
    async send(batch, signal) {
      const body = webhookBody(batch);
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(opts.secret, body), 'user-agent': 'crazy-trade' },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 10_000)]),
        });
      } catch (err) {
        throw fetchFailure('webhook', err, secrets);
      }
      // Read (to free the connection); only a short excerpt of a refusal is kept for the log.
      const answer = await res.text().catch(() => '');
      if (!res.ok) throw new ChannelError(scrub(`webhook answered ${res.status}${answer ? `: ${answer.slice(0, 200)}` : ''}`, secrets));
    },
  };
}
