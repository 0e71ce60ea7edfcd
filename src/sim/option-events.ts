/**
 * Option exercise and assignment (`POST /_sim/exercise`, `POST /_sim/assign`; docs "Non-Trade Activities
 * for Option Events"). Exercising n long contracts, or being assigned on n short ones, removes them from
 * the option position (no cash: the premium was paid or received at the trade) and trades n × 100 shares
 * of the underlying at the strike: a long call or a short put buys them, a long put or a short call sells
 * them. No FILL activity: REST `GET /v2/account/activities` shows an `OPEXC` (qty −n, the contracts
 * given up) or `OPASN` (qty +n) activity on the contract and an `OPTRD` for the shares (qty signed,
 * `price` the strike, `net_amount` −qty × strike), keys as in the docs' examples; the activity event
 * stream sends the same two (activity-event-json.ts). The position must be on the right side: exercise
 * needs a long, assignment a short, else 403 `{"code":40310000,"message":"no available position for the
 * specified contract"}` (spec POST /v2/positions/{symbol_or_contract_id}/exercise,
 * error-403-no-available-position.json). Expiry and cash-settled contracts (OPEXP, OPCSH) are not simulated.
 */
import { nonTradeEventBody } from './activity-event-json.js';
import type { Asset } from './assets.js';
import { nyDate } from './clock.js';
import { type Dec, ZERO, fmt } from './decimal.js';
import type { Engine } from './engine.js';
import { forbidden, unprocessable } from './errors.js';
import { OPTION_MULTIPLIER } from './option-contracts.js';
import type { Side } from './types.js';

export type OptionEventKind = 'OPEXC' | 'OPASN';

/** A non-trade activity as REST serves it (activity-query.ts). */
export interface OptionActivity {
  id: string;
  micros: number;
  activityType: OptionEventKind | 'OPTRD';
  json: Record<string, unknown>;
}

const DESCRIPTION = { OPEXC: 'Option Exercise', OPASN: 'Option Assignment', OPTRD: 'Option Trade' } as const;

export interface OptionEventResult {
  kind: OptionEventKind;
  contracts: Dec;
  activities: OptionActivity[];
}

export function exerciseOrAssign(engine: Engine, kind: OptionEventKind, contract: Asset, qty: Dec | null): OptionEventResult {
  const terms = contract.option;
  if (!terms) throw unprocessable(`${contract.symbol} is not an option contract`);
  const held = engine.portfolio.qty(contract.symbol);
  const wantLong = kind === 'OPEXC';
  if (held.isZero() || held.isPositive() !== wantLong) throw forbidden('no available position for the specified contract');
  const contracts = qty ?? held.abs();
  if (!contracts.isInteger() || contracts.lte(0) || contracts.gt(held.abs())) {
    throw unprocessable(`qty must be a whole number of contracts between 1 and ${fmt(held.abs())}`);
  }
  const underlying = engine.assets.resolve(terms.underlying);
  if (!underlying) throw unprocessable(`unknown underlying ${terms.underlying}`);
  // The contracts leave the position at no cash.
  engine.portfolio.apply(contract, wantLong ? 'sell' : 'buy', contracts, ZERO);
  const stockSide: Side = (terms.type === 'call') === wantLong ? 'buy' : 'sell';
  const shares = contracts.times(OPTION_MULTIPLIER);
  engine.portfolio.apply(underlying, stockSide, shares, terms.strike);

  const micros = engine.nowMicros();
  const optionQty = wantLong ? contracts.neg() : contracts;
  const shareQty = stockSide === 'buy' ? shares : shares.neg();
  const net = shareQty.times(terms.strike).neg();
  const optionAct = record(engine, kind, micros, { symbol: contract.symbol, qty: optionQty, net: ZERO });
  const tradeAct = record(engine, 'OPTRD', micros, { symbol: underlying.symbol, qty: shareQty, net, price: terms.strike });
  const optionDetails = { symbol: terms.underlying, contract_symbol: contract.symbol, qty: fmt(optionQty) };
  engine.events.append(kind, nonTradeEventBody({ refId: uuidOf(optionAct.id), micros, asset: contract, qty: optionQty, price: null, netAmount: ZERO, details: optionDetails }));
  engine.events.append('OPTRD', nonTradeEventBody({
    refId: uuidOf(tradeAct.id), micros, asset: underlying, qty: shareQty, price: terms.strike, netAmount: net,
    details: { symbol: underlying.symbol, contract_symbol: contract.symbol, side: stockSide },
  }));
  return { kind, contracts, activities: [optionAct, tradeAct] };
}

const uuidOf = (activityId: string): string => activityId.split('::')[1] ?? activityId;

function record(
  engine: Engine,
  type: OptionActivity['activityType'],
  micros: number,
  a: { symbol: string; qty: Dec; net: Dec; price?: Dec },
): OptionActivity {
  const id = engine.activities.newActivityId(micros);
  const json: Record<string, unknown> = {
    id,
    activity_type: type,
    date: nyDate(micros),
    net_amount: fmt(a.net),
    description: DESCRIPTION[type],
    symbol: a.symbol,
    qty: fmt(a.qty),
    ...(a.price === undefined ? {} : { price: fmt(a.price) }),
    status: 'executed',
  };
  const act: OptionActivity = { id, micros, activityType: type, json };
  engine.activities.recordOptionActivity(act);
  return act;
}
