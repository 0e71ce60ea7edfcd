import type { ExecutionReport, OrderReport } from '../../src/domain/reports.js';

let n = 0;
export function orderReport(over: Partial<OrderReport> = {}): OrderReport {
  n += 1;
  return {
    orderId: over.orderId ?? `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    clientOrderId: 'manual-1',
    symbol: 'AAPL',
    assetClass: 'us_equity',
    side: 'buy',
    type: 'market',
    timeInForce: 'day',
    status: 'new',
    qty: '10',
    notional: null,
    filledQty: '0',
    filledAvgPrice: null,
    limitPrice: null,
    stopPrice: null,
    trailPercent: null,
    trailPrice: null,
    replacedBy: null,
    replaces: null,
    submittedAt: '2026-01-02T15:00:00Z',
    updatedAt: '2026-01-02T15:00:00Z',
    filledAt: null,
    expiresAt: null,
    ...over,
  };
}

export function execution(order: OrderReport, over: Partial<ExecutionReport>): ExecutionReport {
  return {
    orderId: order.orderId,
    symbol: order.symbol,
    side: order.side,
    source: 'stream',
    cumQty: '1',
    qty: '1',
    price: '100',
    avgPrice: null,
    execId: null,
    executionId: null,
    orderStatus: null,
    at: '2026-01-02T15:00:01Z',
    ...over,
  };
}
