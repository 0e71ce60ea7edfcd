/**
 * A replace that changes nothing is refused: 403 `{"code":40310000,"message":"order parameters are not
 * changed"}` (alpaca-trade-api-js#123, the body as Alpaca answered it). A new `client_order_id` alone
 * is not a change of the order's parameters: the bot's identical PATCHes carried one each.
 */
import { forbidden } from './errors.js';
import type { ReplaceSpec, SimOrder } from './types.js';

export const MSG_NOT_CHANGED = 'order parameters are not changed';

type Dec = NonNullable<SimOrder['qty']>;
const same = (next: Dec | undefined, was: Dec | null) => next === undefined || (was !== null && next.eq(was));

export function checkReplaceChanges(old: SimOrder, patch: ReplaceSpec): void {
  const trail = old.trailPercent ?? old.trailPrice;
  const unchanged =
    same(patch.qty, old.qty) &&
    same(patch.limitPrice, old.limitPrice) &&
    same(patch.stopPrice, old.stopPrice) &&
    same(patch.trail, trail) &&
    (patch.timeInForce === undefined || patch.timeInForce === old.timeInForce);
  if (unchanged) throw forbidden(MSG_NOT_CHANGED);
}
