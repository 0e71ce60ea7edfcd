/**
 * Decimal helpers for the simulator. All money and quantity arithmetic goes through
 * this private Decimal constructor (never floats); output is plain notation without
 * trailing zeros, matching Alpaca's decimal strings ("150", "0.001", "105.8988475").
 */
import { Decimal as BaseDecimal } from 'decimal.js';

export const Dec = BaseDecimal.clone({
  precision: 60,
  rounding: BaseDecimal.ROUND_HALF_UP,
  toExpNeg: -40,
  toExpPos: 60,
});
export type Dec = InstanceType<typeof Dec>;

export const ZERO = new Dec(0);

/** Maximum fractional digits accepted for quantities and prices (Alpaca: 9). */
export const MAX_DP = 9;

/** Plain decimal string, no exponent, no trailing zeros, never "-0". */
export function fmt(d: Dec): string {
  if (d.isZero()) return '0';
  return d.toFixed();
}

/** Round to `dp` places (half up) and format. */
export function fmtDp(d: Dec, dp: number): string {
  return fmt(d.toDecimalPlaces(dp, Dec.ROUND_HALF_UP));
}

export function fmtNullable(d: Dec | null): string | null {
  return d === null ? null : fmt(d);
}

const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export type DecimalParse =
  | { ok: true; value: Dec }
  | { ok: false; reason: 'invalid' | 'not_positive' | 'too_precise' };

/**
 * Parse a client-supplied decimal (JSON string or number). Requires a finite,
 * strictly positive value with at most `maxDp` fractional digits.
 */
export function parsePositiveDecimal(input: unknown, maxDp = MAX_DP): DecimalParse {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: 'invalid' };
    text = String(input);
    if (/e/i.test(text)) text = new Dec(input).toFixed();
  } else if (typeof input === 'string') {
    text = input.trim();
  } else {
    return { ok: false, reason: 'invalid' };
  }
  if (!DECIMAL_RE.test(text)) return { ok: false, reason: 'invalid' };
  const value = new Dec(text);
  if (value.lte(0)) return { ok: false, reason: 'not_positive' };
  if (value.decimalPlaces() > maxDp) return { ok: false, reason: 'too_precise' };
  return { ok: true, value };
}

/** True when the value was not supplied (absent, null, or an empty string). */
export function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}
