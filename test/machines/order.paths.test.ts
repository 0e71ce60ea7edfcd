import { describe, expect, it } from 'vitest';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { orderMachine, summarize, type OrderEvent } from '../../machines/order.machine.js';
import { D } from '../../src/decimal.js';
import { execution, orderReport } from './helpers.js';

/**
 * Path coverage (xstate/graph): from a working entry order, the events the broker and the stop
 * worker can send reach every state of the lifecycle, and each final state is final.
 */
const report = orderReport({ qty: '2' });
const input = { order: summarize(report), untracked: true, protect: true };

function events(snapshot: any): OrderEvent[] {
  // A finished actor takes no more events (a live actor drops them).
  if (snapshot.status === 'done') return [];
  const cum = new D(snapshot.context.ledger.filledQty);
  const out: OrderEvent[] = [];
  if (cum.lt(2)) {
    const next = cum.plus(1).toFixed();
    out.push({ type: 'execution', role: 'entry', execution: execution(report, { cumQty: next, qty: '1', price: '100', orderStatus: next === '2' ? 'filled' : 'partially_filled' }) });
  }
  for (const status of ['canceled', 'expired', 'rejected', 'replaced']) {
    out.push({ type: 'order.report', role: 'entry', order: { ...report, status, filledQty: cum.toFixed(), filledAvgPrice: cum.isZero() ? null : '100' } });
  }
  out.push({ type: 'stop.working', stopOrderId: 'stop-1' });
  out.push({ type: 'order.report', role: 'entry', order: { ...report, status: 'done_for_day', filledQty: cum.toFixed(), filledAvgPrice: cum.isZero() ? null : '100' } });
  out.push({ type: 'stop.filled', exitFillId: 'stop-1:2' });
  out.push({ type: 'position.closed' });
  return out;
}

const serializeState = (s: any) => JSON.stringify([s.value, s.context.ledger.filledQty, s.context.stop?.orderId ?? null]);

describe('order machine paths (xstate/graph)', () => {
  const paths = getShortestPaths(orderMachine, { input, events, serializeState });
  const reached = new Set(paths.map((p) => String(p.state.value)));

  it('reaches every lifecycle state from a working entry', () => {
    for (const state of ['pending', 'partiallyFilled', 'placingStop', 'protected', 'exited', 'canceled', 'rejected', 'expired', 'replaced']) {
      expect(reached, state).toContain(state);
    }
  });

  it('reaches done for an order that is not protected', () => {
    const unprotected = getShortestPaths(orderMachine, { input: { ...input, protect: false }, events, serializeState });
    expect(unprotected.map((p) => String(p.state.value))).toContain('done');
  });

  it('every path to a final state ends the actor, and protection never precedes a fill', () => {
    for (const p of getSimplePaths(orderMachine, { input, events, serializeState, limit: 5000 })) {
      const final = ['exited', 'done', 'canceled', 'rejected', 'expired', 'replaced'].includes(String(p.state.value));
      expect(p.state.status === 'done', `${String(p.state.value)} via ${p.steps.map((st) => st.event.type + ':' + String(st.state.value)).join(' > ')}`).toBe(final);
      if (['placingStop', 'protected', 'exited'].includes(String(p.state.value))) {
        expect(new D(p.state.context.ledger.filledQty).gt(0)).toBe(true);
      }
    }
  });
});
