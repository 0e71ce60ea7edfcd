import type { Context, Next } from 'koa';
import { HttpError } from './errors.js';

/**
 * DNS rebinding guard: a web page the operator visits can point a name of its own at 127.0.0.1
 * and read this API from the browser as "same origin" — but its requests then carry that name in
 * `Host`. Only the names this API is reached by are answered: the loopback names, the bind host
 * (CT_API_HOST) and CT_API_ALLOWED_HOSTS, each with any port; anything else is 421, on every
 * route, the dashboard page included. An absolute-form request target (`GET http://host/path`,
 * RFC 9112 §3.2.2, which a server must accept and which names the host the client means) is
 * checked the same way; any other target that is not a path is 400.
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `host[:port]` → the host part, lowercased (IPv6 literals keep their brackets); null if malformed. */
export function hostOf(header: string): string | null {
  const h = header.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1]! : null;
}

/** The names a request's Host may carry: loopback, the bind host, and the configured extras. */
export function allowedHostNames(bindHost: string | undefined, extra: readonly string[] = []): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  for (const name of [bindHost, ...extra]) {
    if (!name) continue;
    const n = name.trim().toLowerCase();
    // A bare IPv6 literal (CT_API_HOST=::1) appears bracketed in Host.
    names.add(n.includes(':') && !n.startsWith('[') ? `[${n}]` : (hostOf(n) ?? n));
  }
  return names;
}

/** 'path' for an origin-form target (`/health`), the host of an absolute-form one (`http://h:1/x`), else null. */
export function targetHost(target: string): string | 'path' | null {
  if (target.startsWith('/')) return 'path';
  const m = /^https?:\/\/([^/?#]*)(?:[/?#]|$)/i.exec(target);
  if (!m || m[1]!.includes('@')) return null;
  return hostOf(m[1]!) ?? null;
}

export function hostCheck(bindHost: string | undefined, extra: readonly string[] = []) {
  const allowed = allowedHostNames(bindHost, extra);
  return async (ctx: Context, next: Next) => {
    const host = hostOf(ctx.get('host'));
    const target = targetHost(ctx.req.url ?? '/');
    if (target === null) throw new HttpError(400, 'bad_request_target', 'the request target must be a path (or an http URL of this API)');
    if (host === null || !allowed.has(host) || (target !== 'path' && !allowed.has(target))) {
      throw new HttpError(421, 'misdirected_request', 'this API does not answer to that Host name; add it to CT_API_ALLOWED_HOSTS if it is yours');
    }
    await next();
  };
}
