/**
 * /v2/account, /v2/positions and /v2/account/activities endpoints (/v2/clock: session-routes.ts). Positions show the
 * fee-net crypto quantity and `qty_available` = qty minus what open sells hold (spec Position).
 */
import { accountJson, positionJson } from '../account-json.js';
import { activityTypesParam, queryActivities } from '../activity-query.js';
import { notFound } from '../errors.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

export function registerAccountRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  router.add('GET', '/v2/account', (ctx) => {
    ctx.body = accountJson(engine, s.account);
  });

  router.add('GET', '/v2/positions', (ctx) => {
    ctx.body = engine.portfolio.all().map((h) => positionJson(engine, h));
  });

  // Crypto positions are keyed without the slash (alpaca-py#179, #537): BTCUSD is found; BTC/USD,
  // raw or %2F-encoded, is not. Slashed lookups are counted apart in /_sim/stats.
  const SLASHED = '/v2/positions/{base}/{quote}';
  const getPosition = (symbolOrId: string): Record<string, unknown> => {
    const asset = symbolOrId.includes('/') ? null : engine.assets.resolveSymbolOrId(symbolOrId);
    const holding = asset ? engine.portfolio.holding(asset.symbol) : undefined;
    if (!holding) throw notFound('position does not exist');
    return positionJson(engine, holding);
  };
  router.add(
    'GET',
    '/v2/positions/{symbol_or_asset_id}',
    (ctx, p) => {
      ctx.body = getPosition(p.symbol_or_asset_id ?? '');
    },
    { statsTemplate: (p) => ((p.symbol_or_asset_id ?? '').includes('/') ? SLASHED : '/v2/positions/{symbol_or_asset_id}') },
  );
  router.add('GET', SLASHED, () => {
    throw notFound('position does not exist');
  });

  router.add('GET', '/v2/account/activities', (ctx) => {
    ctx.body = queryActivities(engine.fills, ctx.query, activityTypesParam(ctx.query), engine.activities);
  });

  router.add('GET', '/v2/account/activities/{activity_type}', (ctx, p) => {
    ctx.body = queryActivities(engine.fills, ctx.query, [(p.activity_type ?? '').toUpperCase()], engine.activities);
  });
}
