/**
 * Crypto fees against fills (pure, no imports): where a fee stands in the ledger's time order.
 */

/**
 * Fills and fees in one time order. A fee's time is at best its activity id's, to the millisecond,
 * and that id is made right after its fill's: a fee goes after every fill of the same millisecond
 * or earlier (canonical times compare as text; their first 23 characters are the millisecond).
 */
export function inLedgerOrder<F extends { filled_at: string }, E extends { at: string }>(fills: readonly F[], fees: readonly E[]): Array<{ fill: F } | { fee: E }> {
  const out: Array<{ fill: F } | { fee: E }> = [];
  let i = 0;
  for (const fee of fees) {
    const ms = fee.at.slice(0, 23);
    while (i < fills.length && fills[i]!.filled_at.slice(0, 23) <= ms) out.push({ fill: fills[i++]! });
    out.push({ fee });
  }
  while (i < fills.length) out.push({ fill: fills[i++]! });
  return out;
}
