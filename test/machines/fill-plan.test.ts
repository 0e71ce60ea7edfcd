import { describe, expect, it } from 'vitest';
import { EMPTY_LEDGER, ledgerAvgPrice, planFills } from '../../machines/fill-plan.js';
import { execution, orderReport } from './helpers.js';

const order = orderReport();

describe('fill plan (ledger arithmetic)', () => {
  it('records an itemised fill and grows the ledger', () => {
    const p = planFills(EMPTY_LEDGER, execution(order, { cumQty: '4', qty: '4', price: '100.5' }));
    expect(p).toMatchObject({ kind: 'record', ledger: { filledQty: '4', notional: '402' } });
    if (p.kind === 'record') expect(p.fills).toEqual([expect.objectContaining({ cumQty: '4', qty: '4', price: '100.5', source: 'stream' })]);
  });

  it('treats a cum_qty at or below the recorded one as a duplicate', () => {
    const ledger = { filledQty: '4', notional: '402' };
    expect(planFills(ledger, execution(order, { cumQty: '4', qty: '4' })).kind).toBe('duplicate');
    expect(planFills(ledger, execution(order, { cumQty: '2', qty: '2' })).kind).toBe('duplicate');
    expect(planFills(ledger, execution(order, { cumQty: '4.000', qty: '4' })).kind).toBe('duplicate');
  });

  it('records a gap as one inferred fill priced from the VWAP difference', () => {
    // 2 @ 100 recorded; stream says cum 10 after an execution of 3 @ 110 with order VWAP 104.
    const ledger = { filledQty: '2', notional: '200' };
    const p = planFills(ledger, execution(order, { cumQty: '10', qty: '3', price: '110', avgPrice: '104' }));
    expect(p.kind).toBe('record');
    if (p.kind !== 'record') return;
    // total 1040; gap of 5 costs 1040 - 200 - 330 = 510 → 102
    expect(p.fills.map((f) => [f.cumQty, f.qty, f.price, f.source])).toEqual([
      ['7', '5', '102', 'inferred'],
      ['10', '3', '110', 'stream'],
    ]);
    expect(p.ledger).toEqual({ filledQty: '10', notional: '1040' });
    expect(ledgerAvgPrice(p.ledger)).toBe('104');
  });

  it('asks for the order when a gap cannot be priced', () => {
    const p = planFills({ filledQty: '2', notional: '200' }, execution(order, { source: 'activity', cumQty: '10', qty: '3', price: '110' }));
    expect(p.kind).toBe('unpricedGap');
  });

  it('prices an order snapshot from its VWAP, to 9 decimals for crypto', () => {
    const p = planFills({ filledQty: '0.5', notional: '32500' }, execution(order, { source: 'order', cumQty: '0.750000001', qty: null, price: null, avgPrice: '65100' }));
    expect(p.kind).toBe('record');
    if (p.kind !== 'record') return;
    expect(p.fills).toHaveLength(1);
    expect(p.fills[0]).toMatchObject({ cumQty: '0.750000001', qty: '0.250000001', source: 'order' });
    expect(p.fills[0]!.price.split('.')[1]?.length ?? 0).toBeLessThanOrEqual(9);
    // The ledger's VWAP lands on the broker's filled_avg_price to the broker's precision.
    expect(Math.abs(Number(ledgerAvgPrice(p.ledger)) - 65100)).toBeLessThan(1e-4);
  });
});
