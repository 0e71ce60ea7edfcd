/**
 * Event ids for the activity event stream (GET /v2beta1/events/activities): ULIDs, as Alpaca's
 * (docs "SSE Events": "ULIDs are designed to be lexicographically sortable"; SDK 4.0.2 ActivityEventV2
 * `event_id`: "Lexically sortable, monotonically increasing character string"). 26 Crockford base32
 * characters: 10 for the millisecond time, 16 for 80 random bits from the seeded PRNG. Monotonic as in
 * the ULID spec's monotonic mode: within one millisecond (or if the time went back) the random part is
 * the previous one plus 1, so every id sorts after the one before it.
 */
import type { Rng } from './rng.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_BITS = 80n;

function encode(value: bigint, chars: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < chars; i++) {
    out = CROCKFORD[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

export class UlidFactory {
  private lastMs = -1;
  private random = 0n;

  constructor(private readonly rng: Rng) {}

  next(ms: number): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      let r = 0n;
      for (let i = 0; i < 5; i++) r = (r << 16n) | BigInt(this.rng.int(0x10000));
      // The top bit is left clear so that a long run within one millisecond cannot overflow.
      this.random = r & ((1n << (RANDOM_BITS - 1n)) - 1n);
    } else {
      this.random += 1n;
    }
    return encode(BigInt(this.lastMs), 10) + encode(this.random, 16);
  }
}

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function isUlid(value: string): boolean {
  return ULID_RE.test(value);
}
