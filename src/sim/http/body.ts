/** Reads a JSON request body; malformed JSON is Alpaca's 400 "failed to decode request body". */
import type Koa from 'koa';
import { decodeError } from '../errors.js';

const MAX_BODY_BYTES = 1 << 20;

/** The parsed body, or undefined when the body is empty. */
export async function readJson(ctx: Koa.Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw decodeError();
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw decodeError();
  }
  ctx.state.json = parsed; // for the request log (request-log.ts)
  return parsed;
}

/** Like readJson, but an empty body is an error too (order endpoints need a body). */
export async function readRequiredJson(ctx: Koa.Context): Promise<unknown> {
  const body = await readJson(ctx);
  if (body === undefined) throw decodeError();
  return body;
}
