import { describe, expect, it } from 'vitest';
import { brokerFilledOf, changeLedger, EMPTY_LEDGER, ledgerAvgPrice, planFills } from '../../machines/fill-plan.js';
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

describe('fill plan after a trade bust or correction (the broker cum_qty moved)', () => {
  it('a bust takes the fill off what the broker says is filled: reports are read less it, the identity stays', () => {
    // 4 @ 100 recorded; that fill busted: the broker says 0 filled, the ledger keeps cum 4.
    const ledger = changeLedger({ filledQty: '4', notional: '400' }, { qty: '-4', notional: '-400' });
    expect(ledger).toEqual({ filledQty: '4', notional: '0', changed: '-4', changedAt: '4' });
    expect(brokerFilledOf(ledger)).toBe('0');
    expect(ledgerAvgPrice(ledger)).toBeNull();
    // A poll after the bust (broker filled 0) is nothing new.
    expect(planFills(ledger, execution(order, { source: 'order', cumQty: '0', qty: null, price: null, avgPrice: null })).kind).toBe('duplicate');
    // The order fills again: broker cum 3 (a new execution id) is the ledger's cum 7, a new fill of 3 (not a duplicate of the busted cum 4).
    const p = planFills(ledger, execution(order, { cumQty: '3', qty: '3', price: '101', executionId: 'x-new' }));
    expect(p.kind).toBe('record');
    if (p.kind !== 'record') return;
    expect(p.fills.map((f) => [f.cumQty, f.qty, f.price])).toEqual([['7', '3', '101']]);
    expect(p.ledger).toEqual({ filledQty: '7', notional: '303', changed: '-4', changedAt: '4' });
    expect(brokerFilledOf(p.ledger)).toBe('3');
  });

  it('a correction up is not recorded again as a fill when the order is read', () => {
    // 10 @ 100 recorded, corrected to 12 @ 99: the broker says 12 filled, avg 99.
    const ledger = changeLedger({ filledQty: '10', notional: '1000' }, { qty: '2', notional: '188' });
    expect(ledger).toEqual({ filledQty: '10', notional: '1188', changed: '2', changedAt: '10' });
    expect(planFills(ledger, execution(order, { source: 'order', cumQty: '12', qty: null, price: null, avgPrice: '99' })).kind).toBe('duplicate');
    // More fills later: broker cum 15 at VWAP 99.2 → 3 more at (15 × 99.2 − 1188) / 3 = 100.
    const p = planFills(ledger, execution(order, { source: 'order', cumQty: '15', qty: null, price: null, avgPrice: '99.2' }));
    expect(p.kind).toBe('record');
    if (p.kind !== 'record') return;
    expect(p.fills.map((f) => [f.cumQty, f.qty, f.price])).toEqual([['13', '3', '100']]);
    expect(ledgerAvgPrice(p.ledger)).toBe('99.2');
  });

  it('changes that cancel out leave no trace', () => {
    expect(changeLedger(changeLedger({ filledQty: '5', notional: '500' }, { qty: '1', notional: '100' }), { qty: '-1', notional: '-100' })).toEqual({ filledQty: '5', notional: '500', changedAt: '5' });
  });

  it('after a correction down, the execution reported again in the numbering of before it is recorded already', () => {
    // 3 @ 180 recorded (cum 3), corrected to 2 @ 183.6: the broker says 2 filled.
    const ledger = changeLedger({ filledQty: '3', notional: '540' }, { qty: '-1', notional: '-172.8' });
    // The REST FILL list keeps the execution as it was (cum 3, qty 3; no execution id): not a new fill of 1 at cum 4.
    expect(planFills(ledger, execution(order, { source: 'activity', cumQty: '3', qty: '3', price: '180' })).kind).toBe('duplicate');
    // The event stream replays the original execution (its id recorded): the same.
    expect(planFills(ledger, execution(order, { source: 'event', cumQty: '3', qty: '3', price: '180', executionId: 'x-1', executionRecorded: true })).kind).toBe('duplicate');
    // The order read in its current terms (2 filled) is nothing new either.
    expect(planFills(ledger, execution(order, { source: 'order', cumQty: '2', qty: null, price: null, avgPrice: '183.6' })).kind).toBe('duplicate');
    // A later execution (cum 4 in the broker's terms now) is a new fill of 2, at the ledger's cum 5.
    const p = planFills(ledger, execution(order, { source: 'activity', cumQty: '4', qty: '2', price: '181' }));
    expect(p.kind).toBe('record');
    if (p.kind === 'record') expect(p.fills.map((f) => [f.cumQty, f.qty])).toEqual([['5', '2']]);
  });
});
