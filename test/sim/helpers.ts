/** Shared helpers for the simulator tests: the real SDK pointed at the sim, raw HTTP, waits. */
import { OrdersApi, trading } from '@alpacahq/alpaca-trade-api';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';

export const KEY = 'test-key';
export const SECRET = 'test-secret';
export const AUTH = { 'APCA-API-KEY-ID': KEY, 'APCA-API-SECRET-KEY': SECRET };

export async function startTestSim(opts: SimOptions = {}): Promise<Simulator> {
  return startSimulator({ seed: 42, ...opts });
}

export function sdk(sim: Simulator, extra: Partial<trading.ConfigurationParameters> = {}) {
  const cfg = new trading.Configuration({ basePath: sim.url, keyId: KEY, secret: SECRET, ...extra });
  return {
    cfg,
    orders: new OrdersApi(cfg),
    activities: new trading.AccountActivitiesApi(cfg),
    accounts: new trading.AccountsApi(cfg),
    positions: new trading.PositionsApi(cfg),
    clock: new trading.ClockApi(cfg),
  };
}

export interface RawResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Raw HTTP against the sim (API routes get the auth headers unless `auth: false`). */
export async function http<T = unknown>(
  sim: Simulator,
  method: string,
  path: string,
  body?: unknown,
  opts: { auth?: boolean; rawBody?: string; /** Base URL (default sim.url; sim.dataUrl for market data). */ base?: string } = {},
): Promise<RawResponse<T>> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (opts.auth !== false) Object.assign(headers, AUTH);
  const init: RequestInit = { method, headers };
  if (opts.rawBody !== undefined) init.body = opts.rawBody;
  else if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`${opts.base ?? sim.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

export type Json = Record<string, unknown>;

/** POST /_sim/trade and return the order JSON (throws on a non-200). */
export async function outsideTrade(sim: Simulator, body: Json): Promise<Json> {
  const res = await http<Json>(sim, 'POST', '/_sim/trade', body, { auth: false });
  if (res.status !== 200) throw new Error(`/_sim/trade ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Expect `p` to reject with an SDK ApiError; returns it. */
export async function apiError(p: Promise<unknown>): Promise<{ status: number; code?: number | string; message: string; name: string }> {
  try {
    await p;
  } catch (err) {
    return err as { status: number; code?: number | string; message: string; name: string };
  }
  throw new Error('expected the call to fail');
}
