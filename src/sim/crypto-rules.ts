/**
 * The account's crypto settings, set by SimOptions and `POST /_sim/crypto`:
 * - `fee_bps` (default 25): crypto fee rate (crypto-fees.ts);
 * - `legacy_symbols` (default false): orders created while it is on, and their FILL activities,
 *   carry the legacy `BTCUSD` instead of `BTC/USD` ("older" activities and orders, docs "Crypto
 *   trading (broker)"); they keep it after it is turned off;
 * - `wash_trade` (default `crypto`): where wash-trade protection applies (wash-trade.ts);
 * - `fee_delay_ms` (default 0): a CFEE is posted that long after its fill (Alpaca's 2022 docs: fees
 *   post at the end of the day); the position is fee-net at once, as before.
 */
import type { Asset } from './assets.js';
import { DEFAULT_FEE_BPS, MAX_FEE_BPS } from './crypto-fees.js';
import { invalid } from './errors.js';
import { WASH_TRADE_MODES, type WashTradeMode } from './wash-trade.js';

export interface CryptoSettings {
  feeBps: number;
  legacySymbols: boolean;
  washTrade: WashTradeMode;
  feeDelayMs: number;
}

/** A day: the longest a CFEE waits to be posted (end of day). */
export const MAX_FEE_DELAY_MS = 86_400_000;

export const DEFAULT_CRYPTO_SETTINGS: CryptoSettings = {
  feeBps: DEFAULT_FEE_BPS,
  legacySymbols: false,
  washTrade: 'crypto',
  feeDelayMs: 0,
};

export class CryptoRules implements CryptoSettings {
  feeBps: number;
  legacySymbols: boolean;
  washTrade: WashTradeMode;
  feeDelayMs: number;

  constructor(init: Partial<CryptoSettings> = {}) {
    const s = { ...DEFAULT_CRYPTO_SETTINGS, ...init };
    checkFeeBps(s.feeBps);
    checkFeeDelay(s.feeDelayMs);
    this.feeBps = s.feeBps;
    this.legacySymbols = s.legacySymbols;
    this.washTrade = s.washTrade;
    this.feeDelayMs = s.feeDelayMs;
  }

  /** Whether an order for `asset` created now carries the legacy symbol. */
  legacyFor(asset: Asset): boolean {
    return this.legacySymbols && asset.assetClass === 'crypto';
  }

  /** Wire form, as GET/POST /_sim/crypto answer. */
  json(): Record<string, unknown> {
    return { fee_bps: this.feeBps, legacy_symbols: this.legacySymbols, wash_trade: this.washTrade, fee_delay_ms: this.feeDelayMs };
  }

  /** Validate and apply a POST /_sim/crypto body (all-or-nothing). */
  update(body: Record<string, unknown>): Record<string, unknown> {
    const next: CryptoSettings = { feeBps: this.feeBps, legacySymbols: this.legacySymbols, washTrade: this.washTrade, feeDelayMs: this.feeDelayMs };
    for (const [key, value] of Object.entries(body)) {
      if (key === 'fee_bps') {
        if (typeof value !== 'number') throw invalid(`fee_bps must be a number between 0 and ${MAX_FEE_BPS}`);
        checkFeeBps(value);
        next.feeBps = value;
      } else if (key === 'legacy_symbols') {
        if (typeof value !== 'boolean') throw invalid('legacy_symbols must be true or false');
        next.legacySymbols = value;
      } else if (key === 'wash_trade') {
        const mode = WASH_TRADE_MODES.find((m) => m === value);
        if (!mode) throw invalid(`wash_trade must be one of ${WASH_TRADE_MODES.join(', ')}`);
        next.washTrade = mode;
      } else if (key === 'fee_delay_ms') {
        if (typeof value !== 'number') throw invalid(`fee_delay_ms must be an integer between 0 and ${MAX_FEE_DELAY_MS}`);
        checkFeeDelay(value);
        next.feeDelayMs = value;
      } else {
        throw invalid(`unknown crypto setting: ${key}`);
      }
    }
    Object.assign(this, next);
    return this.json();
  }
}

function checkFeeDelay(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_FEE_DELAY_MS) throw invalid(`fee_delay_ms must be an integer between 0 and ${MAX_FEE_DELAY_MS}`);
}

function checkFeeBps(v: number): void {
  if (!Number.isFinite(v) || v < 0 || v > MAX_FEE_BPS) throw invalid(`fee_bps must be a number between 0 and ${MAX_FEE_BPS}`);
}
