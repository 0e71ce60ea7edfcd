/**
 * Control endpoints for the crypto rules and late activities (no auth, never faulted, not counted):
 * - `GET /_sim/crypto` → `{fee_bps, legacy_symbols, wash_trade, fee_delay_ms}`;
 * - `POST /_sim/crypto {fee_bps?, legacy_symbols?, wash_trade?, fee_delay_ms?}` changes them (crypto-rules.ts);
 * - `GET /_sim/activities/pending` → `{ids}`: activity ids made but not served yet (late activities).
 */
import { invalid } from '../errors.js';
import { isPlainObject } from '../order-request.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

export function registerCryptoControlRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  router.add('GET', '/_sim/crypto', (ctx) => {
    ctx.body = engine.crypto.json();
  });

  router.add('POST', '/_sim/crypto', async (ctx) => {
    const body = (await readJson(ctx)) ?? {};
    if (!isPlainObject(body)) throw invalid('body must be a JSON object');
    ctx.body = engine.crypto.update(body);
  });

  router.add('GET', '/_sim/activities/pending', (ctx) => {
    ctx.body = { ids: engine.activities.pendingIds() };
  });
}
