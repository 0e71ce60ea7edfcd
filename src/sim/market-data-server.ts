/**
 * Market data on its own loopback listener (`Simulator.dataUrl`). Alpaca serves market data from a
 * different host than trading (data.alpaca.markets, paper and live alike; docs "Market data"), and
 * the trading host does not serve /v1beta3/crypto/… or /v2/stocks/…: point a client's market-data
 * base URL here, its trading base URL at `Simulator.url`. Same auth, faults and /_sim/stats counters
 * as the trading host; no /_sim control endpoints.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './http/app.js';
import { registerMarketRoutes } from './http/market-routes.js';
import type { SimServices } from './http/services.js';

export interface MarketDataServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `host` as given to the simulator (loopback, already checked); `hostInUrl` with brackets for IPv6. */
export async function startMarketDataServer(
  services: SimServices,
  host: string,
  hostInUrl: string,
  port = 0,
): Promise<MarketDataServer> {
  const server = createServer(createApp(services, registerMarketRoutes).callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostInUrl}:${actual}`,
    port: actual,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
