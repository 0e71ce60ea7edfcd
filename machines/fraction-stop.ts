import { D } from '../src/decimal.js';
import { fractionStopClientOrderId } from '../src/domain/orders.js';
import { stopAsk, type StopAsk, type StopRow } from '../src/domain/protection.js';
import { isCrypto } from '../src/domain/symbols.js';
import { stopStateOf, type StopEvent } from './stop-model.js';
import { fractionPart } from './stop-policy.js';
import { stopWants } from './position.js';

/**
 * An equity entry of one share or more with a fraction (2.5 shares) needs two stops at Alpaca: a
 * fractional quantity cannot trail, is `day` only, and cannot be replaced (alpaca-rules.md,
 * "Fractional trading"). Its stop row covers the whole shares with the gtc trailing stop; a second
 * row, its fraction stop (`ct-stop-<entry>-f`, payload part `fraction`), covers the fraction with a
 * `day` stop, placed again after each close while the position is held.
 *
 * The fraction stop follows its entry's stop: same ask, same cut, canceled with it. This is the one
 * decision (pure): from the entry stop's row as it is now, and the fraction stop's (if any), the
 * events that bring the fraction stop in line. Applied after every transition of an entry's stop
 * (src/protection/stop-transitions.ts), in the same transaction.
 */

/** Whether a stop row is an entry's fraction stop (not the stop the position actor follows). */
export function isFractionPart(row: Pick<StopRow, 'payload'>): boolean {
  return stopAsk(row).part === 'fraction';
}

/** The fraction stop's ask, from its entry stop's. */
export function fractionAsk(entryAsk: StopAsk): StopAsk {
  return { ...entryAsk, clientOrderId: fractionStopClientOrderId(entryAsk.entryOrderId), part: 'fraction' };
}

/** Whether the row is an equity entry's stop that may have a fraction stop to follow it. */
export function hasFractionStop(row: Pick<StopRow, 'payload'>): boolean {
  return followedByFraction(stopAsk(row));
}

function followedByFraction(ask: StopAsk): boolean {
  return ask.part !== 'fraction' && !isCrypto(ask.symbol, ask.assetClass);
}

/** The events for the fraction stop (created by the first, an `asked`, when `fraction` is undefined). */
export function fractionFollows(main: Pick<StopRow, 'payload' | 'cut_qty' | 'status' | 'cancel_requested' | 'broker_order_id' | 'version' | 'last_error'>, fraction: StopRow | undefined): StopEvent[] {
  const mainAsk = stopAsk(main);
  if (!followedByFraction(mainAsk)) return [];
  const ask = fractionAsk(mainAsk);
  const mainState = stopStateOf(main);
  const wants = fractionPart(stopWants({ asked: ask.qty, cut: main.cut_qty }));
  const needed = mainState !== 'done' && mainState !== 'cancelling' && new D(wants).gt(0);
  if (!fraction) return needed ? [{ type: 'asked', ask }, { type: 'cut', cutQty: main.cut_qty, wake: true }] : [];
  const state = stopStateOf(fraction);
  if (state === 'done') return needed ? [{ type: 'rearmed', ask, cut: main.cut_qty }] : [];
  const events: StopEvent[] = [];
  const had = stopAsk(fraction);
  if (had.qty !== ask.qty || had.trailPercent !== ask.trailPercent) events.push({ type: 'asked', ask });
  if (fraction.cut_qty !== main.cut_qty) events.push({ type: 'cut', cutQty: main.cut_qty, wake: true });
  if (needed && state === 'cancelling') events.push({ type: 'rearmed', ask, cut: main.cut_qty });
  if (!needed && state !== 'cancelling') events.push({ type: 'cancelRequested' });
  return events;
}
