import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orderMachine, summarize, type OrderInput } from '../../machines/order.machine.js';
import { brokerOutcome, FINAL_ORDER_STATUSES, LIVE_ORDER_STATUSES } from '../../src/domain/orders.js';
import { execution, orderReport } from './helpers.js';

const types = (actions: Array<{ type: string }>) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));
const params = (actions: Array<{ type: string; params?: any }>, type: string) => actions.filter((a) => a.type === type).map((a) => a.params);

function start(over: Partial<OrderInput> = {}, report = orderReport()) {
  const [snap, actions] = initialTransition(orderMachine, { order: summarize(report), untracked: true, protect: true, ...over });
  return { snap, actions, report };
}

describe('order machine: lifecycle', () => {
  it('starts pending for a working order', () => {
    const { snap, actions } = start();
    expect(snap.value).toBe('pending');
    expect(types(actions)).toEqual([]);
  });

  it('partial fill → partiallyFilled, records the fill and asks for nothing else (the position actor sizes the stop)', () => {
    const { snap, report } = start();
    const [s1, a1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '4', qty: '4', price: '100', orderStatus: 'partially_filled' }) });
    expect(s1.value).toBe('partiallyFilled');
    expect(params(a1, 'recordFill')).toEqual([expect.objectContaining({ cumQty: '4', qty: '4', price: '100', role: 'entry' })]);
    expect(types(a1)).toEqual(['recordFill']);
    expect(s1.context.ledger).toEqual({ filledQty: '4', notional: '400' });
  });

  it('full fill of a protected entry → placingStop, then protected ("stop placed") when its stop actor reports it working', () => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) });
    expect(s1.value).toBe('placingStop');
    const [s3] = transition(orderMachine, s1, { type: 'stop.working', stopOrderId: 'stop-1' });
    expect(s3.value).toBe('protected');
    expect(s3.context.stop).toEqual({ clientOrderId: `ct-stop-${report.orderId}`, orderId: 'stop-1' });
    const [s4] = transition(orderMachine, s3, { type: 'stop.filled', exitFillId: 'stop-1:10' });
    expect(s4.value).toBe('exited');
    expect(s4.status).toBe('done');
  });

  it('a stop working since the last fill goes straight to protected when the order ends; a later fill waits for the next report', () => {
    const { snap, report } = start({}, orderReport({ qty: '12' }));
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'partially_filled' }) });
    const [s2] = transition(orderMachine, s1, { type: 'stop.working', stopOrderId: 'stop-1' });
    expect(s2.value).toBe('partiallyFilled');
    const [s3] = transition(orderMachine, s2, { type: 'order.report', role: 'entry', order: { ...report, status: 'canceled', filledQty: '10', filledAvgPrice: '100' } });
    expect(s3.value).toBe('protected');
    // A fill after the stop was reported: the stop is resized, so the entry waits for it to work again.
    const [t3] = transition(orderMachine, s2, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '12', qty: '2', orderStatus: 'filled' }) });
    expect(t3.value).toBe('placingStop');
    const [t4] = transition(orderMachine, t3, { type: 'stop.working', stopOrderId: 'stop-2' });
    expect([t4.value, t4.context.stop?.orderId]).toEqual(['protected', 'stop-2']);
  });

  it('records a repeated report once and reports the duplicate', () => {
    const { snap, report } = start({ protect: false });
    const fill = { type: 'execution' as const, role: 'entry' as const, execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) };
    const [s1, a1] = transition(orderMachine, snap, fill);
    expect(s1.value).toBe('done');
    expect(params(a1, 'recordFill')).toHaveLength(1);
    const { snap: p, report: r2 } = start({ protect: false });
    const [q1] = transition(orderMachine, p, { type: 'execution', role: 'entry', execution: execution(r2, { cumQty: '4', qty: '4' }) });
    const [q2, a2] = transition(orderMachine, q1, { type: 'execution', role: 'entry', execution: execution(r2, { cumQty: '4', qty: '4', source: 'activity' }) });
    expect(types(a2)).toEqual(['duplicateFill']);
    expect(q2.context.ledger.filledQty).toBe('4');
  });

  it('an exit (not an entry) is recorded and done without a stop', () => {
    const { snap, report } = start({}, orderReport({ side: 'sell' }));
    const [s1, a1] = transition(orderMachine, snap, { type: 'execution', role: 'exit', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) });
    expect(s1.value).toBe('done');
    expect(types(a1)).toEqual(['recordFill']);
  });

  it.each([
    ['canceled', 'canceled'],
    ['expired', 'expired'],
    ['rejected', 'rejected'],
    ['replaced', 'replaced'],
  ])('broker status %s without fills → %s (final)', (status, state) => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'order.report', role: 'entry', order: { ...report, status } });
    expect(s1.value).toBe(state);
    expect(s1.status).toBe('done');
  });

  it.each(LIVE_ORDER_STATUSES)('broker status %s is not final: the order keeps working and later fills count', (status) => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '4', qty: '4', orderStatus: 'partially_filled' }) });
    const [s2] = transition(orderMachine, s1, { type: 'order.report', role: 'entry', order: { ...report, status, filledQty: '4', filledAvgPrice: '100' } });
    expect(s2.value).toBe('partiallyFilled');
    expect(s2.status).toBe('active');
    const [s3, a3] = transition(orderMachine, s2, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '6', orderStatus: 'filled' }) });
    expect(params(a3, 'recordFill')).toEqual([expect.objectContaining({ cumQty: '10', qty: '6' })]);
    expect(types(a3)).toEqual(['recordFill']);
    expect(s3.value).toBe('placingStop');
  });

  it('every status is either final or live, and only filled/canceled/expired/replaced/rejected are final', () => {
    expect([...FINAL_ORDER_STATUSES].sort()).toEqual(['canceled', 'expired', 'filled', 'rejected', 'replaced']);
    for (const s of LIVE_ORDER_STATUSES) expect([s, brokerOutcome(s)]).toEqual([s, 'working']);
    for (const s of FINAL_ORDER_STATUSES) expect(brokerOutcome(s)).toBe(s);
  });

  it('position.closed ends a finished entry (exited) — placingStop or protected — and nothing earlier', () => {
    const { snap, report } = start();
    const [partial] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '4', qty: '4' }) });
    const [still] = transition(orderMachine, partial, { type: 'position.closed' });
    expect(still.value).toBe('partiallyFilled');
    const [placing] = transition(orderMachine, partial, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '6', orderStatus: 'filled' }) });
    expect(placing.value).toBe('placingStop');
    const [fromPlacing] = transition(orderMachine, placing, { type: 'position.closed' });
    expect([fromPlacing.value, fromPlacing.status]).toEqual(['exited', 'done']);
    const [prot] = transition(orderMachine, placing, { type: 'stop.working', stopOrderId: 'stop-1' });
    expect(prot.value).toBe('protected');
    const [fromProtected, actions] = transition(orderMachine, prot, { type: 'position.closed' });
    expect([fromProtected.value, fromProtected.status]).toEqual(['exited', 'done']);
    expect(types(actions)).toEqual([]);
  });

  it('a partial fill before cancel still counts: the entry is protected for what filled', () => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '3', qty: '3' }) });
    const [s2, a2] = transition(orderMachine, s1, { type: 'order.report', role: 'entry', order: { ...report, status: 'canceled', filledQty: '3', filledAvgPrice: '100' } });
    expect(s2.value).toBe('placingStop');
    expect(types(a2)).toEqual([]);
    expect(s2.context.ledger.filledQty).toBe('3');
  });

  it('an order report beyond the ledger records the difference from the VWAP (source order)', () => {
    const { snap, report } = start({ protect: false });
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '4', qty: '4', price: '100' }) });
    const [s2, a2] = transition(orderMachine, s1, { type: 'order.report', role: 'entry', order: { ...report, status: 'filled', filledQty: '10', filledAvgPrice: '106' } });
    expect(s2.value).toBe('done');
    expect(params(a2, 'recordFill')).toEqual([expect.objectContaining({ cumQty: '10', qty: '6', price: '110', source: 'order' })]);
  });

  it('an unpriced gap asks for the order instead of guessing', () => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '2', qty: '2' }) });
    const [s2, a2] = transition(orderMachine, s1, { type: 'execution', role: 'entry', execution: execution(report, { source: 'activity', cumQty: '10', qty: '3', price: '110' }) });
    expect(types(a2)).toEqual(['requestOrderSnapshot']);
    expect(s2.context.ledger.filledQty).toBe('2');
  });

  it('a protective stop order knows its role from its client order id and tells the entry when it fills', () => {
    const { snap, report } = start({ untracked: false }, orderReport({ side: 'sell', type: 'trailing_stop', clientOrderId: 'ct-stop-entry-1' }));
    expect(snap.context.role).toBe('stop');
    const [s1, a1] = transition(orderMachine, snap, { type: 'execution', role: 'exit', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) });
    expect(s1.value).toBe('done');
    expect(types(a1)).toEqual(['recordFill']);
    expect(s1.output).toEqual({ orderId: report.orderId, role: 'stop', filledQty: '10', stopOf: 'entry-1', exitFillId: `${report.orderId}:10` });
  });
});

describe('order machine: the ledger must catch up before an outcome is final', () => {
  it('an actor spawned from a filled order waits in pending for its fill, then finishes', () => {
    const report = orderReport({ status: 'filled', filledQty: '10', filledAvgPrice: '100' });
    const { snap } = start({ protect: false }, report);
    expect(snap.value).toBe('pending');
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) });
    expect(s1.value).toBe('done');
  });

  it('a canceled order with unrecorded fills records them from the report before it is final', () => {
    const { snap, report } = start({ protect: false });
    const [s1, a1] = transition(orderMachine, snap, { type: 'order.report', role: 'entry', order: { ...report, status: 'canceled', filledQty: '3', filledAvgPrice: '99' } });
    expect(s1.value).toBe('canceled');
    expect(params(a1, 'recordFill')).toEqual([expect.objectContaining({ cumQty: '3', qty: '3', price: '99', source: 'order' })]);
  });
});

describe('order machine: it never asks for a stop', () => {
  it('a placing entry stays placing, asking nothing, however many reports come (no re-ask: the stop actor owns the stop)', () => {
    const { snap, report } = start();
    const [s1] = transition(orderMachine, snap, { type: 'execution', role: 'entry', execution: execution(report, { cumQty: '10', qty: '10', orderStatus: 'filled' }) });
    const [s2, a2] = transition(orderMachine, s1, { type: 'order.report', role: 'entry', order: { ...report, status: 'filled', filledQty: '10', filledAvgPrice: '100' } });
    expect(s2.value).toBe('placingStop');
    expect(types(a2)).toEqual([]);
    expect(Object.keys(orderMachine.implementations.actions).sort()).toEqual(['duplicateFill', 'recordFill', 'requestOrderSnapshot', 'stopWorking']);
  });
});
