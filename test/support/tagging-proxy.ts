import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP proxy in front of the simulator's trading API that tags every request with
 * `X-Sim-Source: <tag>`, so the simulator's request log (GET /_sim/requests) tells apart bots that
 * share one key pair. One per bot process: its ALPACA_API_URL points here (the stream goes direct,
 * so Alpaca's one-connection-per-key-pair rule still holds between them).
 */
export interface TaggingProxy {
  url: string;
  tag: string;
  close(): Promise<void>;
}

export async function taggingProxy(target: string, tag: string): Promise<TaggingProxy> {
  const to = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    const out = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, agent, headers: { ...req.headers, host: to.host, 'x-sim-source': tag } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // Headers on at once: the simulator logs the request's arrival when the bot sent it, not when its body ends.
    out.flushHeaders();
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"message":"tagging proxy: simulator unreachable"}');
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tag,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
