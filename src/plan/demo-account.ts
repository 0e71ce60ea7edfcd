import { randomBytes } from 'node:crypto';
import type { Simulator } from '../sim/index.js';

/**
 * Demo mode has no account to read: the plan starts the embedded simulator, as `npm start` does in
 * demo mode, and gives it a small sample account through the simulator's own controls (`/_sim/…`,
 * not Alpaca's API), so the plan has something to show. Its fills are history like any account's.
 */
export interface DemoAccount {
  sim: Simulator;
  keyId: string;
  secretKey: string;
  note: string;
}

async function control(sim: Simulator, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`demo simulator: ${path} answered ${res.status}: ${await res.text()}`);
}

export async function startDemoAccount(): Promise<DemoAccount> {
  const { startSimulator } = await import('../sim/index.js');
  const keyId = `DEMO${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(24).toString('hex');
  const sim = await startSimulator({ port: 0, host: '127.0.0.1', keyId, secretKey });
  try {
    const trade = (body: Record<string, unknown>) => control(sim, '/_sim/trade', body);
    await trade({ symbol: 'AAPL', side: 'buy', qty: '10', type: 'market' });
    await trade({ symbol: 'MSFT', side: 'buy', qty: '2.5', type: 'market', time_in_force: 'day' });
    await trade({ symbol: 'BTC/USD', side: 'buy', qty: '0.05', type: 'market', time_in_force: 'gtc' });
    await trade({ symbol: 'TSLA', side: 'buy', qty: '5', type: 'market' });
    await trade({ symbol: 'TSLA', side: 'sell', qty: '5', type: 'stop', stop_price: '230', time_in_force: 'gtc', fill: 'none' });
    await trade({ symbol: 'NVDA', side: 'buy', qty: '2', type: 'market' });
    await trade({ symbol: 'NVDA', side: 'sell', qty: '2', type: 'market' });
    await trade({ symbol: 'QQQ', side: 'buy', qty: '3', type: 'limit', limit_price: '400', time_in_force: 'gtc', fill: 'none' });
  } catch (err) {
    await sim.close();
    throw err;
  }
  return {
    sim,
    keyId,
    secretKey,
    note:
      'demo mode (no APCA_* keys set): planned against a fresh embedded simulator with a sample account — AAPL 10, MSFT 2.5, BTC/USD 0.05, TSLA 5 under an outside stop, NVDA bought and sold, a resting QQQ limit. Set APCA_API_KEY_ID and APCA_API_SECRET_KEY to plan your own account.',
  };
}
