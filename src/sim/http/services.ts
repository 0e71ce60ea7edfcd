/** What the HTTP handlers need from the simulator. */
import type { AccountIdentity } from '../account-json.js';
import type { Engine } from '../engine.js';
import type { Faults } from '../faults.js';
import type { Stats } from '../stats.js';
import type { RequestLog } from '../request-log.js';
import type { CredentialCheck, TradeStream } from '../stream.js';
import type { OutsideTrader } from '../outside-trader.js';
import type { ActivitySse } from '../activity-sse.js';

export interface SimServices {
  engine: Engine;
  faults: Faults;
  stats: Stats;
  /** Every API request answered (GET /_sim/requests). */
  requests: RequestLog;
  account: AccountIdentity;
  checkCredentials: CredentialCheck;
  /** GET /v2beta1/events/activities readers (activity-sse.ts). */
  sse: ActivitySse;
  /** Set once the websocket is attached (control endpoint /_sim/stream/drop). */
  stream?: TradeStream;
  /** Set when started with the outside trader (control endpoint /_sim/outside-trader). */
  outsideTrader?: OutsideTrader | null;
}
