import { describe, expect, it } from 'vitest';
import { floorToIncrement, priceOnGrid, qtyOnGrid } from '../src/domain/grid.js';
import { cryptoStopPrice, newStopOrder } from '../src/protection/stop-order.js';

// Alpaca refuses crypto quantities and prices off the asset's grids (docs "Crypto Spot Trading";
// alpaca-py#161): min_order_size, min_trade_increment, price_increment from GET /v2/assets/{symbol}.
describe('asset grids', () => {
  it('rounds quantities down to the trade increment and refuses what falls below the minimum order size', () => {
    const btc = { minOrderSize: '0.0001', minTradeIncrement: '0.000000001', priceIncrement: '1' };
    expect(qtyOnGrid('0.498750000123', btc)).toEqual({ ok: true, qty: '0.49875' });
    expect(qtyOnGrid('0.00005', btc)).toEqual({ ok: false, reason: 'qty 0.00005 is below the minimum order size 0.0001' });
    expect(floorToIncrement('12.37', '0.5')).toBe('12');
    expect(floorToIncrement('0.123456789', null)).toBe('0.123456789');
  });

  it('puts stop and limit prices on the price increment: BTC to the dollar, SHIB to 1e-8, never "0"', () => {
    expect(cryptoStopPrice('63000', '2', '1')).toBe('61740');
    expect(cryptoStopPrice('0.00002345', '2', '0.00000001')).toBe('0.00002298');
    // Without a grid (its read failed): cents from $1, significant places below.
    expect(cryptoStopPrice('0.00002345', '2', null)).toBe('0.000022981');
    expect(priceOnGrid('3104.6789', '0.1')).toBe('3104.6');
    const order = newStopOrder(
      { entryOrderId: 'e', clientOrderId: 'ct-stop-e', symbol: 'SHIB/USD', assetClass: 'crypto', side: 'sell', qty: '1000000' },
      '1000000',
      'ct-stop-e',
      '0.00002298',
      { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
      '0.00000001',
    );
    expect(order).toMatchObject({ type: 'stop_limit', timeInForce: 'gtc', stopPrice: '0.00002298', limitPrice: '0.00002275' });
  });
});
