import type Router from '@koa/router';
import { z } from 'zod';
import {
  CloseResponse,
  CooldownsCleared,
  CooldownsResponse,
  EntryRequestBody,
  EntryResponse,
  ErrorBody,
  FillsResponse,
  HealthResponse,
  OrderResponse,
  OrdersResponse,
  PausedResponse,
  PerformanceResponse,
  PositionsResponse,
  TrailRequestBody,
  TrailResponse,
} from './schemas.js';

/**
 * GET /openapi.json: the API as an OpenAPI 3.1 document, generated from the zod schemas the routes
 * parse their bodies with and answer in (schemas.ts; zod 4's JSON Schema output, draft 2020-12,
 * which OpenAPI 3.1 uses). Served without a token: it describes, it holds no data.
 */

interface Route {
  method: 'get' | 'post' | 'delete' | 'patch';
  path: string;
  summary: string;
  write?: boolean;
  params?: Array<{ name: string; in: 'path' | 'query'; description: string }>;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

const SYMBOL_PARAM = { name: 'symbol', in: 'path' as const, description: 'e.g. AAPL, BTC%2FUSD or BTCUSD' };
/** Every route takes it (src/api/host.ts); required when the instance serves several accounts, but for /health. */
const ACCOUNT_PARAM = { name: 'account', in: 'query' as const, description: 'the account (CT_ACCOUNTS_FILE name); may be left out with one account' };
const err = (description: string) => ({ description, schema: ErrorBody });

export const ROUTES: Route[] = [
  { method: 'get', path: '/health', summary: 'Liveness, stream, drift and protection; 503 when a position is unprotected past its grace', responses: { 200: { description: 'ok or degraded', schema: HealthResponse }, 503: { description: 'critical', schema: HealthResponse } } },
  { method: 'get', path: '/positions', summary: 'Ledger positions and the stops that cover them', responses: { 200: { description: 'positions', schema: PositionsResponse } } },
  { method: 'get', path: '/cooldowns', summary: 'Running cooldowns (?all=1: every one)', params: [{ name: 'all', in: 'query', description: '1 or true: all cooldowns ever started' }], responses: { 200: { description: 'cooldowns', schema: CooldownsResponse } } },
  { method: 'get', path: '/orders', summary: 'Orders the service knows, newest first', params: [{ name: 'state', in: 'query', description: 'an order actor state' }], responses: { 200: { description: 'orders', schema: OrdersResponse }, 400: err('bad query') } },
  { method: 'get', path: '/orders/{id}', summary: 'One order with its history', params: [{ name: 'id', in: 'path', description: 'broker order id' }], responses: { 200: { description: 'the order', schema: OrderResponse }, 404: err('unknown order') } },
  {
    method: 'get',
    path: '/fills',
    summary: 'The ledger, newest first, cursor-paginated',
    params: ['symbol', 'since', 'limit', 'cursor'].map((name) => ({ name, in: 'query' as const, description: name })),
    responses: { 200: { description: 'a page of fills', schema: FillsResponse }, 400: err('bad query') },
  },
  { method: 'get', path: '/performance', summary: 'Realized P&L and the figures defined in the README', responses: { 200: { description: 'figures', schema: PerformanceResponse } } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', contentType: 'text/plain' } } },
  {
    method: 'post',
    path: '/entries',
    summary: 'Place an entry through the service (refused while paused or cooling down; idempotent by client_order_id)',
    write: true,
    body: EntryRequestBody,
    responses: {
      201: { description: 'placed (or found: replayed)', schema: EntryResponse },
      400: err('invalid request'),
      409: err('cooldown (with until), paused, or client_order_id_conflict (with fields: the id was placed before with another symbol, side, qty, notional or type)'),
      422: err('the broker refused it (broker_status, kind)'),
      502: err('the broker did not answer: send it again with the same client_order_id'),
    },
  },
  { method: 'post', path: '/control/pause', summary: 'Pause entries (protection never pauses)', write: true, responses: { 200: { description: 'paused', schema: PausedResponse } } },
  { method: 'post', path: '/control/resume', summary: 'Resume entries', write: true, responses: { 200: { description: 'running', schema: PausedResponse } } },
  {
    method: 'post',
    path: '/positions/{symbol}/close',
    summary: "Cancel the symbol's stops and close the position at market (idempotent; the exit starts the cooldown)",
    write: true,
    params: [SYMBOL_PARAM],
    responses: {
      200: { description: 'already flat', schema: CloseResponse },
      202: { description: 'the close is placed', schema: CloseResponse },
      409: err('its stops are not canceled yet; nothing was sold'),
      502: err('the close was not placed; unprotected says whether the stops are gone'),
    },
  },
  {
    method: 'patch',
    path: '/stops/{entry_order_id}',
    summary: "Set the trail of an entry's stop (a working trailing stop is replaced with it)",
    write: true,
    params: [{ name: 'entry_order_id', in: 'path', description: 'the entry order id' }],
    body: TrailRequestBody,
    responses: { 200: { description: 'asked for', schema: TrailResponse }, 400: err('invalid request'), 404: err('no stop for that entry'), 409: err('the stop has ended') },
  },
  { method: 'delete', path: '/cooldowns/{symbol}', summary: "End the symbol's running cooldowns now", write: true, params: [SYMBOL_PARAM], responses: { 200: { description: 'how many were running', schema: CooldownsCleared } } },
];

const REF = (id: string) => `#/components/schemas/${id}`;

/** Every named schema (schemas.ts `.meta({ id })`), as components; a request body as it is sent (defaults optional). */
function componentSchemas(): Record<string, unknown> {
  const clean = (s: unknown) => {
    const { $schema: _s, $id: _i, ...rest } = s as Record<string, unknown>;
    return rest;
  };
  const out = z.toJSONSchema(z.globalRegistry, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any', uri: REF }).schemas;
  const inputs = z.toJSONSchema(z.globalRegistry, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', uri: REF }).schemas;
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out)) schemas[id] = clean(REQUESTS.has(id) ? inputs[id] : schema);
  return schemas;
}

const REQUESTS = new Set<string>();

function refTo(schema: z.ZodType): Record<string, unknown> {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('a schema of the API has no id (schemas.ts: .meta({ id }))');
  return { $ref: REF(id) };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = { description: res.description, content: { [res.contentType ?? 'application/json']: res.schema ? { schema: refTo(res.schema) } : {} } };
    }
    if (r.write) {
      responses['401'] = { description: 'missing or wrong bearer token', content: { 'application/json': { schema: refTo(ErrorBody) } } };
      responses['403'] = { description: 'write_disabled: CT_API_TOKEN is not set', content: { 'application/json': { schema: refTo(ErrorBody) } } };
      responses['429'] = { description: 'too many failed attempts from this address', content: { 'application/json': { schema: refTo(ErrorBody) } } };
    }
    const open = !r.write && (r.path === '/' || r.path === '/openapi.json');
    if (!r.write && !open) {
      responses['401'] = { description: 'missing or wrong bearer token (only when CT_API_TOKEN is set)', content: { 'application/json': { schema: refTo(ErrorBody) } } };
      responses['429'] = { description: 'too many failed attempts from this address, or from all together', content: { 'application/json': { schema: refTo(ErrorBody) } } };
    }
    if (r.body) REQUESTS.add(z.globalRegistry.get(r.body)!.id!);
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      parameters: [...(r.params ?? []), ACCOUNT_PARAM].map((p) => ({ ...p, required: p.in === 'path', schema: { type: 'string' } })),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: refTo(r.body) } } } } : {}),
      // Writes always need the token; reads need it once CT_API_TOKEN is set (`{}`: none while it is not).
      ...(r.write ? { security: [{ bearer: [] }] } : open ? { security: [] } : { security: [{ bearer: [] }, {}] }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'crazy-trade status and control API', version: '1' },
    components: { schemas: componentSchemas(), securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'CT_API_TOKEN: always required for writes; required for reads (all but / and /openapi.json) once CT_API_TOKEN is set' } } },
    paths,
  };
}

export function openApiRoutes(router: Router): void {
  const doc = openApiDocument();
  router.get('/openapi.json', (ctx) => {
    ctx.body = doc;
  });
}
