import { D, type Dec } from '../src/decimal.js';
import type { Side } from '../src/domain/reports.js';
import { classifyFill, endsPosition, signedQty } from './position.js';

/**
 * The exit walk (pure): which fills ended the position they met (closed it or crossed flat), judged
 * in the broker's order of fills. The one decision behind every cooldown (src/runtime/exit-cooldowns.ts
 * runs it after each batch of recorded fills and fees).
 */

/** A crypto fee in the exit walk: `feeQty` of the coin left the position (no exit itself). */
export interface FeeMove {
  feeQty: string;
}

const isFee = (m: object): m is FeeMove => 'feeQty' in m;

/**
 * Given the position after `moves` (fills, and crypto fees, in the broker's order), the fills that
 * closed or crossed it: the cooldowns to start. A fee moves the position but is no exit itself; a fee
 * that takes the last of it right after a fill reduced it completed that fill's exit (the fee-net
 * sale of a coin, with the fee learned after the sale: Alpaca posts CFEE by the day).
 */
export function endingFills<F extends { side: Side; qty: string }>(positionAfter: string, moves: ReadonlyArray<F | FeeMove>): F[] {
  const effect = (m: F | FeeMove) => (isFee(m) ? new D(m.feeQty).negated() : signedQty(m.side, m.qty));
  // The position just before the first: after, less everything since.
  let pos = moves.reduce((p, m) => p.minus(effect(m)), new D(positionAfter));
  const out: F[] = [];
  let reducer: F | undefined;
  for (const m of moves) {
    if (isFee(m)) {
      const before = pos;
      pos = pos.plus(effect(m));
      if (reducer && !before.isZero() && pos.isZero()) out.push(reducer);
      reducer = undefined;
      continue;
    }
    const step = classifyFill(pos, m.side, m.qty);
    pos = step.after;
    if (endsPosition(step.kind)) out.push(m);
    reducer = step.kind === 'reduced' ? m : undefined;
  }
  return out;
}

