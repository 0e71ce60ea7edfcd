import { describe, expect, it } from 'vitest';
import type { OrderReport } from '../src/domain/reports.js';
import { crossingOrders, washAdvice } from '../src/protection/wash-crossing.js';

/** A stop refused as a wash trade: which of the account's open orders crosses it, and what the alarm tells the user to do. */
function order(id: string, over: Partial<OrderReport>): OrderReport {
  return {
    orderId: id,
    clientOrderId: `web-${id}`,
    symbol: 'ETH/USD',
    assetClass: 'crypto',
    side: 'buy',
    type: 'limit',
    timeInForce: 'gtc',
    status: 'new',
    qty: '1',
    notional: null,
    filledQty: '0',
    filledAvgPrice: null,
    limitPrice: '2990',
    stopPrice: null,
    trailPercent: null,
    trailPrice: null,
    replacedBy: null,
    replaces: null,
    submittedAt: null,
    updatedAt: null,
    filledAt: null,
    expiresAt: null,
    ...over,
  };
}

const SELL_STOP = { side: 'sell' as const, limitPrice: '2910.6' };

describe('wash-trade refusals: the crossing order and what to do', () => {
  it('a sell stop-limit is crossed by buys at or above its limit, and by any market or stop buy; never by a trailing stop, a sell, or a buy limit below', () => {
    const open = [
      order('above', { limitPrice: '2990' }),
      order('equal', { limitPrice: '2910.6' }),
      order('below', { limitPrice: '2900' }),
      order('market', { type: 'market', limitPrice: null }),
      order('stop', { type: 'stop', limitPrice: null, stopPrice: '3100' }),
      order('stoplimit', { type: 'stop_limit', limitPrice: '2950', stopPrice: '2940' }),
      order('trailing', { type: 'trailing_stop', limitPrice: null, trailPercent: '2' }),
      order('sell', { side: 'sell', limitPrice: '3000' }),
    ];
    expect(crossingOrders(SELL_STOP, open).map((o) => o.orderId)).toEqual(['above', 'equal', 'market', 'stop', 'stoplimit']);
    // A stop without a limit (a plain stop) is crossed by every other-side order but a trailing stop.
    expect(crossingOrders({ side: 'sell', limitPrice: null }, open).map((o) => o.orderId)).toEqual(['above', 'equal', 'below', 'market', 'stop', 'stoplimit']);
    // A buy stop (a short's) is crossed by sells at or below its limit.
    const sells = [order('s1', { side: 'sell', limitPrice: '101' }), order('s2', { side: 'sell', limitPrice: '99' })];
    expect(crossingOrders({ side: 'buy', limitPrice: '100' }, sells).map((o) => o.orderId)).toEqual(['s2']);
  });

  it('names the crossing order, its price and what is left of it, and says what to cancel or where to move its limit', () => {
    expect(washAdvice(SELL_STOP, [order('61e6', { qty: '3', filledQty: '1' })])).toBe(
      "crossed by your open buy limit order 61e6 at 2990 (qty 2): cancel it, or lower its limit below 2910.6 (this stop's limit); the stop is sent again as soon as that order ends",
    );
    // A market order cannot be moved out of the way: cancel it (or let it fill).
    expect(washAdvice(SELL_STOP, [order('m1', { type: 'market', limitPrice: null, qty: null, notional: '500' })])).toBe(
      'crossed by your open buy market order m1 (notional 500): cancel it; the stop is sent again as soon as that order ends',
    );
    // A buy stop: the sells' limits go up.
    expect(washAdvice({ side: 'buy', limitPrice: '100' }, [order('s2', { side: 'sell', limitPrice: '99' })])).toBe(
      "crossed by your open sell limit order s2 at 99 (qty 1): cancel it, or raise its limit above 100 (this stop's limit); the stop is sent again as soon as that order ends",
    );
  });

  it('several: the first three by name, the rest counted; none (it ended meanwhile): nothing to add', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((id) => order(id, {}));
    expect(washAdvice(SELL_STOP, five)).toBe(
      "crossed by your open orders: buy limit order a at 2990 (qty 1), buy limit order b at 2990 (qty 1), buy limit order c at 2990 (qty 1) and 2 more: cancel them, or lower their limits below 2910.6 (this stop's limit); the stop is sent again as soon as they end",
    );
    expect(washAdvice(SELL_STOP, [])).toBeNull();
  });
});
