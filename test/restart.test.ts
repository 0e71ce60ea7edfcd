import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D } from '../src/decimal.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { eventually, getJson, startBot, type BotProcess } from './support/bot-process.js';

let sim: Simulator;
const dir = mkdtempSync(join(tmpdir(), 'ct-restart-'));
const bots: BotProcess[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 4, keyId: 'PKTEST', secretKey: 'sekrit' });
});
afterAll(async () => {
  for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  await Promise.all(bots.map((b) => b.exited));
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

async function bot(): Promise<{ bot: BotProcess; url: string }> {
  const b = startBot({
    APCA_API_KEY_ID: 'PKTEST',
    APCA_API_SECRET_KEY: 'sekrit',
    ALPACA_API_URL: sim.url,
    ALPACA_STREAM_URL: sim.streamUrl,
    ALPACA_DATA_URL: sim.dataUrl,
    CT_DB_PATH: join(dir, 'bot.db'),
    CT_API_PORT: '0',
    CT_ADOPT: 'record',
  });
  bots.push(b);
  const url = await b.apiUrl();
  await b.waitFor((l) => l.event === 'stream_state' && l.state === 'connected');
  return { bot: b, url };
}

async function simPost(path: string, body: unknown) {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json() as Promise<any>;
}

describe('an order actor survives SIGKILL', () => {
  it('partially filled → SIGKILL → restart → same state → the rest of the fill completes it', async () => {
    const first = await bot();
    const order = await simPost('/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'limit', limit_price: '1000', fill: 'partial', fill_qty: '4' });
    const partial = await eventually(async () => {
      const r = await getJson(`${first.url}/orders/${order.id}`);
      return r.status === 200 && r.body.state === 'partiallyFilled' ? r.body : null;
    });
    expect(partial).toMatchObject({ id: order.id, filled_qty: '4', role: 'entry', client_order_id: order.client_order_id });
    await first.bot.waitFor((l) => l.event === 'untracked_fill_detected' || (l.event === 'fill_received' && l.order_id === order.id));

    first.bot.proc.kill('SIGKILL');
    expect((await first.bot.exited).signal).toBe('SIGKILL');

    const second = await bot();
    const rehydrated = await second.bot.waitFor((l) => l.event === 'actor_rehydrated' && l.order_id === order.id);
    expect(rehydrated.state).toBe('partiallyFilled');
    const again = await getJson(`${second.url}/orders/${order.id}`);
    expect(again.body).toMatchObject({ state: 'partiallyFilled', filled_qty: '4', filled_avg_price: partial.filled_avg_price });

    await simPost('/_sim/fill', { order_id: order.id, qty: '6' });
    const done = await eventually(async () => {
      const r = await getJson(`${second.url}/orders/${order.id}`);
      return r.body.state === 'done' ? r.body : null;
    });
    expect(done.filled_qty).toBe('10');
    expect(done.history.map((h: any) => [h.from, h.to])).toEqual([
      [null, 'pending'],
      ['pending', 'partiallyFilled'],
      ['partiallyFilled', 'done'],
    ]);

    // The ledger agrees with the broker: Σ qty == filled_qty, VWAP == filled_avg_price.
    const brokerOrder: any = await (await fetch(`${sim.url}/v2/orders/${order.id}`, { headers: { 'APCA-API-KEY-ID': 'PKTEST', 'APCA-API-SECRET-KEY': 'sekrit' } })).json();
    expect(brokerOrder.filled_qty).toBe('10');
    const db = new BetterSqlite3(join(dir, 'bot.db'), { readonly: true });
    const rows = db.prepare('select cum_qty, qty, price from fills where order_id = ? order by id').all(order.id) as any[];
    db.close();
    expect(rows.map((r) => r.cum_qty)).toEqual(['4', '10']);
    const notional = rows.reduce((s, r) => s.plus(new D(r.qty).times(r.price)), new D(0));
    expect(notional.div(10).toDecimalPlaces(2).eq(brokerOrder.filled_avg_price)).toBe(true);
    expect(done.filled_avg_price).toBe(brokerOrder.filled_avg_price);
  }, 60_000);
});
