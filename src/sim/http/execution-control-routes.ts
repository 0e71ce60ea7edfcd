/**
 * Control endpoints for what the venue does to executions after the fact (no auth, never faulted):
 * - `POST /_sim/bust {execution_id}` (the fill's trade_updates `execution_id`, or a correction's `ref_id`);
 * - `POST /_sim/correct {execution_id, qty?, price?}` (at least one, positive decimals);
 *   both answer `{event}`: the activity event published (executions.ts);
 * - `POST /_sim/exercise {symbol, qty?}` (a long option position) and `POST /_sim/assign {symbol, qty?}` (a short
 *   one); qty in contracts, default all; answer `{activities}`: the REST activities made (option-events.ts).
 */
import type Koa from 'koa';
import { decimalField, isPlainObject } from '../order-request.js';
import { invalid, unprocessable } from '../errors.js';
import { ExecutionDesk } from '../executions.js';
import { type OptionEventKind, exerciseOrAssign } from '../option-events.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

async function objectBody(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const body = (await readJson(ctx)) ?? {};
  if (!isPlainObject(body)) throw invalid('body must be a JSON object');
  return body;
}

function executionId(body: Record<string, unknown>): string {
  const id = body.execution_id;
  if (typeof id !== 'string' || id === '') throw invalid('execution_id is missing');
  return id;
}

export function registerExecutionControlRoutes(router: Router, s: SimServices): void {
  const { engine } = s;
  const desk = new ExecutionDesk(engine);

  router.add('POST', '/_sim/bust', async (ctx) => {
    const ev = desk.bust(executionId(await objectBody(ctx)));
    ctx.body = { event: ev.json };
  });

  router.add('POST', '/_sim/correct', async (ctx) => {
    const body = await objectBody(ctx);
    const id = executionId(body);
    const qty = decimalField(body, 'qty');
    const price = decimalField(body, 'price');
    if (qty === null && price === null) throw invalid('qty or price is required');
    ctx.body = { event: desk.correct(id, qty, price).json };
  });

  const optionEvent = (kind: OptionEventKind) => async (ctx: Koa.Context) => {
    const body = await objectBody(ctx);
    const asset = typeof body.symbol === 'string' ? engine.assets.resolve(body.symbol) : null;
    if (!asset || asset.assetClass !== 'us_option') throw unprocessable('symbol must be an option contract (OCC symbol)');
    const result = exerciseOrAssign(engine, kind, asset, decimalField(body, 'qty'));
    ctx.body = { activities: result.activities.map((a) => a.json) };
  };
  router.add('POST', '/_sim/exercise', optionEvent('OPEXC'));
  router.add('POST', '/_sim/assign', optionEvent('OPASN'));
}
