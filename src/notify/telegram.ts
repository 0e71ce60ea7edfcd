import { ChannelError, fetchFailure, scrub, type Channel, type OutgoingNotification } from './channel.js';

/**
 * The Telegram channel: the plain Bot API, `POST <api>/bot<token>/sendMessage` with
 * `{chat_id, text}`; one message per batch, its lines the notifications' texts. A message holds
 * 4096 characters: what does not fit ends as "… and N more" (the webhook carries every event in full).
 */

export const TELEGRAM_MAX_CHARS = 4096;

/** The batch as one message of at most `limit` characters. */
export function telegramText(batch: readonly Pick<OutgoingNotification, 'text'>[], limit = TELEGRAM_MAX_CHARS): string {
  const lines = batch.map((n) => n.text);
  const all = lines.join('\n');
  if (all.length <= limit) return all;
  const more = (n: number) => `… and ${n} more`;
  const kept: string[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const rest = lines.length - i - 1;
    const line = lines[i]!;
    // Room for this line, its newline, and (if others follow) the closing "… and N more" line.
    const room = limit - used - (kept.length > 0 ? 1 : 0) - (rest > 0 ? more(rest).length + 1 : 0);
    if (line.length <= room) {
      kept.push(line);
      used += line.length + (kept.length > 1 ? 1 : 0);
      continue;
    }
    if (kept.length === 0) {
      // A single line longer than a message: cut it.
      const cut = Math.max(0, room - 1);
      kept.push(`${line.slice(0, cut)}…`);
      used += cut + 1;
      if (rest > 0) kept.push(more(rest));
      return kept.join('\n');
    }
    kept.push(more(lines.length - i));
    return kept.join('\n');
  }
  return kept.join('\n');
}

export function telegramChannel(opts: { apiUrl: string; botToken: string; chatId: string; timeoutMs?: number }): Channel {
  const secrets = [opts.botToken];
  const url = `${opts.apiUrl.replace(/\/+$/, '')}/bot${opts.botToken}/sendMessage`;
  return {
    name: 'telegram',
    // What one message can show line by line; more are summed up as "… and N more".
    maxBatch: 50,
    async send(batch, signal) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chat_id: opts.chatId, text: telegramText(batch) }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 10_000)]),
        });
      } catch (err) {
        throw fetchFailure('telegram', err, secrets);
      }
      const answer = await res.text().catch(() => '');
      if (res.ok) return;
      let description = '';
      let retryAfterMs: number | undefined;
      try {
        const j = JSON.parse(answer) as { description?: string; parameters?: { retry_after?: number } };
        description = j.description ?? '';
        if (typeof j.parameters?.retry_after === 'number') retryAfterMs = j.parameters.retry_after * 1000;
      } catch {
        description = answer.slice(0, 200);
      }
      throw new ChannelError(scrub(`telegram answered ${res.status}${description ? `: ${description}` : ''}`, secrets), retryAfterMs);
    },
  };
}
