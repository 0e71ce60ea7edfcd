/**
 * Id generation. Order ids and execution ids are seeded uuids. Activity ids follow
 * Alpaca's `YYYYMMDDHHMMSSmmm::<uuid>` format (New York time); the uuid's first 12 hex
 * digits are a counter, and the prefix never goes backwards, so ids sort as strings
 * in creation order even within one millisecond (or across a DST fall-back). CFEE ids carry only the
 * day (dayActivityId).
 */
import { nyCompactStamp } from './clock.js';
import { formatUuidV4, type Rng } from './rng.js';

export class IdFactory {
  private activityCounter = 0;
  private lastStamp = '';

  constructor(private readonly rng: Rng) {}

  uuid(): string {
    return this.rng.uuid();
  }

  /** A new activity id and its uuid part (used as the fill's execution_id). */
  activityId(micros: number): { id: string; uuid: string } {
    const stamp = nyCompactStamp(micros);
    this.lastStamp = stamp > this.lastStamp ? stamp : this.lastStamp;
    this.activityCounter += 1;
    const lead = this.activityCounter.toString(16).padStart(12, '0');
    const uuid = formatUuidV4(lead, this.rng);
    return { id: `${this.lastStamp}::${uuid}`, uuid };
  }

  /**
   * A CFEE activity's id: its New York day at midnight, `YYYYMMDD000000000::<uuid>` (Alpaca's example,
   * activity-cfee.json), so it sorts before that day's fills. The uuid's counter keeps such ids
   * unique and in creation order among themselves.
   */
  dayActivityId(micros: number): string {
    this.activityCounter += 1;
    const lead = this.activityCounter.toString(16).padStart(12, '0');
    return `${nyCompactStamp(micros).slice(0, 8)}000000000::${formatUuidV4(lead, this.rng)}`;
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}
