import { Decimal } from 'decimal.js';

/** One Decimal constructor for the whole service: enough precision for 9-dp crypto VWAPs. */
export const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = InstanceType<typeof D>;

const DECIMAL = /^-?\d+(\.\d+)?$/;

export function isDecimalString(v: unknown): v is string {
  return typeof v === 'string' && DECIMAL.test(v);
}

/** Canonical text of a decimal ("2.500" → "2.5", "-0" → "0") so equal values have equal keys. */
export function normalize(v: string | Dec): string {
  const d = typeof v === 'string' ? new D(v) : v;
  return d.isZero() ? '0' : d.toFixed();
}

/** Σ qty·price / Σ qty over (qty, price) pairs; null when nothing was filled. */
export function vwap(parts: ReadonlyArray<{ qty: string; price: string }>): Dec | null {
  let qty = new D(0);
  let notional = new D(0);
  for (const p of parts) {
    qty = qty.plus(p.qty);
    notional = notional.plus(new D(p.qty).times(p.price));
  }
  return qty.isZero() ? null : notional.div(qty);
}
