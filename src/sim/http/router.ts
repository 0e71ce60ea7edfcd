/**
 * A tiny route table. Templates are matched segment by segment ("{name}" captures one
 * decoded segment), and the template itself is the key used by /_sim/stats.
 */
import type Koa from 'koa';

export type Handler = (ctx: Koa.Context, params: Record<string, string>) => Promise<void> | void;

export interface RouteDef {
  method: string;
  template: string;
  handler: Handler;
  /** Template reported in stats (defaults to `template`); a function picks it from the params. */
  statsTemplate?: StatsTemplate;
  /** No APCA auth headers required (Alpaca's crypto market data is public). */
  public?: boolean;
}

export type StatsTemplate = string | ((params: Record<string, string>) => string);

export interface RouteOptions {
  statsTemplate?: StatsTemplate;
  public?: boolean;
}

interface CompiledRoute extends RouteDef {
  segments: string[];
}

export type RouteMatch =
  | { kind: 'found'; route: RouteDef; params: Record<string, string>; key: string }
  | { kind: 'method_not_allowed' }
  | { kind: 'not_found' };

/** Split a raw URL path into decoded segments; null if it cannot be decoded. */
export function pathSegments(path: string): string[] | null {
  const trimmed = path.replace(/^\/+/, '').replace(/\/$/, '');
  try {
    return trimmed === '' ? [] : trimmed.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(method: string, template: string, handler: Handler, options: RouteOptions = {}): this {
    const segments = template.replace(/^\//, '').split('/');
    this.routes.push({ method, template, handler, segments, ...options });
    return this;
  }

  match(method: string, path: string): RouteMatch {
    const segs = pathSegments(path);
    if (segs === null) return { kind: 'not_found' };
    let pathMatched = false;
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segs);
      if (!params) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const template = typeof r.statsTemplate === 'function' ? r.statsTemplate(params) : (r.statsTemplate ?? r.template);
      return { kind: 'found', route: r, params, key: `${r.method} ${template}` };
    }
    return pathMatched ? { kind: 'method_not_allowed' } : { kind: 'not_found' };
  }
}

function matchSegments(template: string[], segs: string[]): Record<string, string> | null {
  if (template.length !== segs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] ?? '';
    const s = segs[i] ?? '';
    if (t.startsWith('{') && t.endsWith('}')) {
      if (s === '') return null;
      params[t.slice(1, -1)] = s;
    } else if (t !== s) {
      return null;
    }
  }
  return params;
}
