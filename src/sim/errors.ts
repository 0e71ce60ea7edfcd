/** Alpaca-shaped API errors: an HTTP status plus the JSON body `{code, message}`. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.name = 'SimError';
  }
}

export const CODE = {
  DECODE: 40010000,
  VALIDATION: 40010001,
  FORBIDDEN: 40310000,
  NOT_FOUND: 40410000,
  METHOD: 40510000,
  UNPROCESSABLE: 42210000,
  RATE_LIMIT: 42910000,
  INTERNAL: 50010000,
  UNAVAILABLE: 50310000,
} as const;

export const unauthorized = (): SimError => new SimError(401, { message: 'unauthorized' });
export const decodeError = (): SimError =>
  new SimError(400, { code: CODE.DECODE, message: 'failed to decode request body' });
/** 422 with code 40010001 (parameter validation). */
export const invalid = (message: string): SimError =>
  new SimError(422, { code: CODE.VALIDATION, message });
/** 422 with code 42210000 (the request is well-formed but cannot be processed). */
export const unprocessable = (message: string): SimError =>
  new SimError(422, { code: CODE.UNPROCESSABLE, message });
export const forbidden = (message: string): SimError =>
  new SimError(403, { code: CODE.FORBIDDEN, message });
export const notFound = (message = 'order not found'): SimError =>
  new SimError(404, { code: CODE.NOT_FOUND, message });
export const endpointNotFound = (): SimError => notFound('endpoint not found');
export const methodNotAllowed = (): SimError =>
  new SimError(405, { code: CODE.METHOD, message: 'method not allowed' });
export const orderIdMissing = (): SimError => invalid('order_id is missing');
export const internal = (): SimError =>
  new SimError(500, { code: CODE.INTERNAL, message: 'internal server error' });
