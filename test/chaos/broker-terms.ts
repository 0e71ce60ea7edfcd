import { Decimal } from 'decimal.js';

/**
 * The checker's own reading of broker terms: status groups, our client order ids, decimals. Written
 * here again on purpose, not imported from src/: a rule the bot and its checker share cannot catch
 * the bot's bug in it (issue 22). Sources: Alpaca's order lifecycle (docs "Orders") and the ids the
 * README describes; src/domain/orders.ts was read, not imported.
 */

export const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = InstanceType<typeof D>;

/** Canonical text of a decimal ("2.500" → "2.5"), so equal quantities make equal keys. */
export const canon = (v: string | Dec): string => {
  const d = new D(v);
  return d.isZero() ? '0' : d.toFixed();
};

/** The five statuses after which an order can change no more (docs "Orders", order lifecycle). */
const FINAL = new Set(['filled', 'canceled', 'expired', 'replaced', 'rejected']);

/** An order that may still fill, be canceled or replaced: any status but the five final ones (a new one too). */
export const isLive = (status: string): boolean => !FINAL.has(status);

/** The order types that protect a position by triggering on the price. */
export const STOP_TYPES: ReadonlySet<string> = new Set(['stop', 'stop_limit', 'trailing_stop']);

/**
 * The bot's ids for an entry's protective stops: `ct-stop-<entry order id>`, `-f` for the `day` stop
 * of an equity entry's fraction, `-v<N>` for the Nth replacement (in that order: `…-f-v2`).
 */
export interface StopId {
  entry: string;
  fraction: boolean;
  version: number;
  /** The id without its version: the one stop a family may have live at a time. */
  family: string;
}

const STOP_ID = /^ct-stop-([0-9a-fA-F-]+?)(-f)?(?:-v([1-9]\d*))?$/;

export function parseStopId(clientOrderId: string): StopId | null {
  const m = STOP_ID.exec(clientOrderId);
  if (!m) return null;
  const fraction = m[2] !== undefined;
  return { entry: m[1]!, fraction, version: m[3] === undefined ? 0 : Number(m[3]), family: `ct-stop-${m[1]}${fraction ? '-f' : ''}` };
}

/** Orders the bot placed carry the `ct-` prefix; any other was placed outside it. */
export const placedByBot = (clientOrderId: string): boolean => clientOrderId.startsWith('ct-');

/** Alpaca lists crypto positions without the slash (`BTCUSD`) and orders with it (`BTC/USD`). */
export const symbolKey = (symbol: string): string => symbol.replace('/', '');

/**
 * The bot's default CT_PROTECT_GRACE_S (src/config.ts, `int(10, 0, 3_600)`; README "Configuration"):
 * how long a position may wait for its stop. The chaos runs leave it at its default.
 */
export const PROTECT_GRACE_S = 10;

/**
 * The PostgreSQL schema of an account's books (README "Running more than one instance":
 * `acct_<account id>`): letters and digits of the id, lower case, at most 63 characters.
 */
export function accountSchemaOf(accountId: string): string {
  return `acct_${accountId.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 63);
}
