/** Account and position JSON (shapes of account.json, position.json). */
import { nyDate, rfc3339 } from './clock.js';
import { Dec, ZERO, fmt, fmtDp } from './decimal.js';
import type { Engine } from './engine.js';
import type { Holding } from './portfolio.js';

const money = (d: Dec): string => fmtDp(d, 9);
const ratio = (num: Dec, den: Dec): string => (den.isZero() ? '0' : fmtDp(num.div(den), 16));

export interface AccountIdentity {
  id: string;
  accountNumber: string;
}

/** Alpaca keys crypto positions without the slash (`BTCUSD`), unlike orders (alpaca-py#179, #537). */
export function positionSymbol(h: Holding): string {
  return h.asset.assetClass === 'crypto' ? h.asset.symbol.replace('/', '') : h.asset.symbol;
}

export function positionJson(engine: Engine, h: Holding): Record<string, unknown> {
  const state = engine.prices.state(h.asset);
  const price = state.price;
  const mult = h.asset.multiplier ?? 1;
  const marketValue = h.qty.times(price).times(mult);
  const costBasis = h.qty.times(h.avgEntry).times(mult);
  const unrealized = marketValue.minus(costBasis);
  const long = h.qty.isPositive();
  const closing = engine.reservedQty(h.asset.symbol, long ? 'sell' : 'buy');
  const available = Dec.max(h.qty.abs().minus(closing), ZERO);
  return {
    asset_class: h.asset.assetClass,
    asset_id: h.asset.id,
    asset_marginable: h.asset.marginable,
    avg_entry_price: fmtDp(h.avgEntry, 9),
    change_today: ratio(price.minus(state.lastday), state.lastday),
    cost_basis: money(costBasis),
    current_price: fmt(price),
    exchange: h.asset.exchange,
    lastday_price: fmt(state.lastday),
    market_value: money(marketValue),
    qty: fmt(h.qty),
    qty_available: fmt(long ? available : available.neg()),
    side: long ? 'long' : 'short',
    symbol: positionSymbol(h),
    unrealized_intraday_pl: money(unrealized),
    unrealized_intraday_plpc: ratio(unrealized, costBasis.abs()),
    unrealized_pl: money(unrealized),
    unrealized_plpc: ratio(unrealized, costBasis.abs()),
  };
}

export function accountJson(engine: Engine, who: AccountIdentity): Record<string, unknown> {
  let longMv = ZERO;
  let shortMv = ZERO;
  let initialMargin = ZERO;
  let maintenance = ZERO;
  for (const h of engine.portfolio.all()) {
    const mv = h.qty.times(engine.prices.get(h.asset)).times(h.asset.multiplier ?? 1);
    if (mv.isPositive()) longMv = longMv.plus(mv);
    else shortMv = shortMv.plus(mv);
    const marginable = h.asset.marginable;
    initialMargin = initialMargin.plus(mv.abs().times(marginable ? '0.5' : '1'));
    maintenance = maintenance.plus(mv.abs().times(marginable ? '0.3' : '1'));
  }
  const cash = engine.portfolio.cash;
  const equity = cash.plus(longMv).plus(shortMv);
  const buyingPower = Dec.max(equity.minus(initialMargin), ZERO).times(2);
  const lastEquity = engine.portfolio.startingCash;
  const now = engine.nowMicros();
  return {
    account_blocked: false,
    account_number: who.accountNumber,
    accrued_fees: '0',
    admin_configurations: {},
    balance_asof: nyDate(now),
    bod_dtbp: 0,
    buying_power: money(buyingPower),
    cash: money(cash),
    created_at: rfc3339(engine.createdAtMicros),
    crypto_status: 'ACTIVE',
    crypto_tier: 1,
    currency: 'USD',
    daytrade_count: 0,
    daytrading_buying_power: '0',
    effective_buying_power: money(buyingPower),
    equity: money(equity),
    id: who.id,
    initial_margin: money(initialMargin),
    intraday_adjustments: '0',
    last_equity: money(lastEquity),
    last_maintenance_margin: '0',
    long_market_value: money(longMv),
    maintenance_margin: money(maintenance),
    multiplier: '2',
    non_marginable_buying_power: money(Dec.max(cash, ZERO)),
    options_buying_power: money(Dec.max(cash, ZERO)),
    options_trading_level: 2,
    pattern_day_trader: false,
    pending_reg_taf_fees: '0',
    pending_transfer_in: '0',
    portfolio_value: money(equity),
    position_market_value: money(longMv.minus(shortMv)),
    regt_buying_power: money(buyingPower),
    short_market_value: money(shortMv),
    shorting_enabled: true,
    sma: money(equity),
    status: 'ACTIVE',
    trade_suspended_by_user: false,
    trading_blocked: false,
    transfers_blocked: false,
    user_configurations: null,
  };
}
