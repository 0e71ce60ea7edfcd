import { createHmac } from 'node:crypto';
import { ChannelError, fetchFailure, scrub, type Channel, type OutgoingNotification } from './channel.js';

/**
 * The webhook channel: `POST <CT_WEBHOOK_URL>` with `{"events":[{id, kind, at, text, data}, …]}`,
 * signed in `X-Crazy-Trade-Signature` (hex HMAC-SHA256 of the raw body with CT_WEBHOOK_SECRET). Any
 * 2xx to that POST is delivered; anything else is retried. Receivers dedupe by `id`.
 *
 * Redirects are never followed: fetch would turn the POST into a body-less GET to the new place (a
 * 301/302, such as an http→https redirect) and its 2xx would count as delivered. A 3xx is a failed
 * delivery that names only the scheme and host of its Location. A receiver's URL may carry a token
 * (in its path or query) and its answer may echo one, so errors name the receiver by scheme and host
 * only, and never carry the answer's body.
 */

export const SIGNATURE_HEADER = 'X-Crazy-Trade-Signature';

export function signBody(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

export function webhookBody(batch: readonly OutgoingNotification[]): string {
  return JSON.stringify({ events: batch.map((n) => ({ id: n.id, kind: n.kind, at: n.at, text: n.text, data: n.data })) });
}

export function webhookChannel(opts: { url: string; secret: string; timeoutMs?: number }): Channel {
  // A webhook URL often carries a token of its own (path, query, credentials): never in a message either.
  const secrets = [opts.secret, ...urlSecrets(opts.url)];
  return {
    name: 'webhook',
    maxBatch: 100,
    async send(batch, signal) {
      const body = webhookBody(batch);
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(opts.secret, body), 'user-agent': 'crazy-trade' },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 10_000)]),
        });
      } catch (err) {
        throw fetchFailure('webhook', err, secrets);
      }
      // Read to free the connection; never kept (a receiver's answer may echo a token).
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 300 && res.status < 400) {
        const to = origin(res.headers.get('location') ?? '', opts.url);
        throw new ChannelError(scrub(`webhook at ${origin(opts.url)} answered ${res.status} (a redirect, not followed: the receiver must answer the POST itself)${to ? ` to ${to}` : ' with no Location'}`, secrets));
      }
      if (!res.ok) throw new ChannelError(scrub(`webhook at ${origin(opts.url)} answered ${res.status}`, secrets));
    },
  };
}

/** A URL's scheme and host (with its port), nothing of its path, query or credentials; '' when it is not a URL. */
export function origin(url: string, base?: string): string {
  try {
    const u = new URL(url, base);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '';
  }
}

/** The parts of a URL that may carry a token: everything but its scheme and host. */
function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [`${u.pathname}${u.search}${u.hash}`, u.username, u.password].filter((p) => p.length > 1);
  } catch {
    return [];
  }
}
