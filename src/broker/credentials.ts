import { errors } from '@alpacahq/alpaca-trade-api';
import type { Logger } from '../log.js';
import { StartupRefusal } from '../startup-refusal.js';
import type { BrokerClient } from './client.js';

/** The refusal for keys Alpaca will not accept: the same words whichever path learned it. */
export function keysRefused(status: number | string, apiUrl: string): StartupRefusal {
  return new StartupRefusal(`Alpaca refused the API keys (${status}) at ${new URL(apiUrl).host}`);
}

/**
 * Reads the account once at start. 401 or 403 mean the keys will never work: running on would
 * leave the account protected by nothing while `/health` looks alive, so that is a refusal. A
 * network error or a 5xx says nothing about the keys: retried (the SDK retries each attempt too)
 * with a capped backoff until it answers or `signal` aborts.
 */
export async function verifyCredentials(
  client: BrokerClient,
  log: Logger,
  signal: AbortSignal,
  backoff = { firstMs: 1_000, maxMs: 30_000 },
): Promise<{ accountId: string } | null> {
  for (let delay = backoff.firstMs; !signal.aborted; delay = Math.min(delay * 2, backoff.maxMs)) {
    try {
      const account = await client.account.getAccount();
      log.info({ event: 'credentials_verified', account_status: account.status }, 'Alpaca accepted the API keys');
      return { accountId: account.id };
    } catch (err) {
      if (err instanceof errors.AuthError || err instanceof errors.PermissionError) throw keysRefused(err.status, client.apiUrl);
      log.warn({ event: 'account_read_failed', err: String(err), retry_in_ms: delay }, 'could not read the account yet; retrying');
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  return null;
}
