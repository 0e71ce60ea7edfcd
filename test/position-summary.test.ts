import { describe, expect, it } from 'vitest';
import { nearestStop, positionFigures, positionTotals, stopLevel } from '../src/api/position-summary.js';
import { fifoBooks } from '../src/performance/fifo.js';

const fill = (id: number, symbol: string, side: 'buy' | 'sell', qty: string, price: string) => ({ id, symbol, side, qty, price, filled_at: `2026-01-02T15:00:${String(id).padStart(2, '0')}.000000000Z` });

describe('FIFO books', () => {
  it('keeps the open lots and what each closing fill realized', () => {
    const books = fifoBooks([fill(1, 'AAPL', 'buy', '10', '100'), fill(2, 'AAPL', 'buy', '10', '110'), fill(3, 'AAPL', 'sell', '15', '120'), fill(4, 'TSLA', 'sell', '2', '250'), fill(5, 'TSLA', 'buy', '1', '240')]);
    // 10 @ 100 and 5 @ 110 closed at 120: 200 + 50.
    expect(books.realized.get(3)).toBe('250');
    expect(books.realized.get(5)).toBe('10');
    expect(books.realized.has(1)).toBe(false);
    expect(books.open.get('AAPL')).toEqual({ qty: '5', cost: '550' });
    expect(books.open.get('TSLA')).toEqual({ qty: '-1', cost: '-250' });
  });
});

describe('position figures', () => {
  it('averages the open lots and values the position at the last price', () => {
    const f = positionFigures('3', { qty: '3', cost: '301' }, '110', []);
    expect(f).toEqual({ avg_entry: '100.3333333333', cost_basis: '301', market_value: '330', unrealized_pnl: '29', unrealized_pnl_pct: '9.63', nearest_stop: null });
    // A short loses as the price rises.
    const s = positionFigures('-2', { qty: '-2', cost: '-500' }, '260', []);
    expect(s).toMatchObject({ avg_entry: '250', market_value: '-520', unrealized_pnl: '-20', unrealized_pnl_pct: '-4' });
    // No last price: no value and no P&L, the average entry still.
    expect(positionFigures('1', { qty: '1', cost: '5' }, null, [])).toMatchObject({ avg_entry: '5', market_value: null, unrealized_pnl: null });
  });

  it("bounds a trailing stop's level by its placement and the last price, and picks the nearest stop", () => {
    const trailing = { stop_order_id: 't', type: 'trailing_stop', side: 'sell' as const, stop_price: '90', trail_percent: '5' };
    // At least 5% under the last price (the high since is never below it): 95, 5% away at most.
    expect(stopLevel(trailing, '100')).toEqual({ level: '95', level_is_bound: true, level_distance_pct: '5' });
    const fixed = { stop_order_id: 's', type: 'stop', side: 'sell' as const, stop_price: '97.5', trail_percent: null };
    expect(stopLevel(fixed, '100')).toEqual({ level: '97.5', level_is_bound: false, level_distance_pct: '2.5' });
    expect(nearestStop([trailing, fixed], '100')).toMatchObject({ stop_order_id: 's', level: '97.5' });
    // Without a last price: the highest sell stop is the nearest.
    expect(nearestStop([trailing, fixed], null)).toMatchObject({ stop_order_id: 's', level_distance_pct: null });
    // A buy stop covers a short: above the price.
    expect(stopLevel({ ...fixed, side: 'buy', stop_price: '105' }, '100')).toMatchObject({ level_distance_pct: '5' });
    // Crossed: negative distance.
    expect(stopLevel(fixed, '97')).toMatchObject({ level_distance_pct: '-0.52' });
  });

  it('sums only the priced positions', () => {
    const t = positionTotals([
      { market_value: '330', unrealized_pnl: '29', cost_basis: '301' },
      { market_value: null, unrealized_pnl: null, cost_basis: '5' },
      { market_value: '-520', unrealized_pnl: '-20', cost_basis: '-500' },
    ]);
    expect(t).toEqual({ market_value: '-190', unrealized_pnl: '9', cost_basis: '-199', priced: 2, positions: 3 });
  });
});
