import type { FillRecord } from '../domain/protection.js';
import { optionEventFill, type OptionEventReport } from '../domain/option-events.js';
import { insertFills } from '../store/ledger.js';
import { notifyFill } from '../notify/events.js';
import type { FillOrder } from '../../machines/position.js';
import { crashPoint } from './crash-points.js';
import { fillTime, type CommitDeps } from './order-commit.js';
import type { Followed } from './position-follow.js';

/**
 * One option exercise or assignment activity (OPEXC, OPASN, OPTRD; src/domain/option-events.ts),
 * committed: in one transaction its fills-ledger row (identity `<kind>-<key>`, |qty|: a second source's
 * report of it writes nothing and follows nothing), the exit walk's mark, and what it does to
 * protection — sent to the symbol's position actor as any fill of an order placed elsewhere
 * (`order`: role at its first fill, CT_ADOPT), whose commands are carried out in the same transaction:
 * shares an OPTRD bought get their own stop (`ct-stop-optrd-<key>`); shares it sold shrink or cancel
 * the stops of that side; the contracts (OPEXC / OPASN) never get one. Null when it was recorded already.
 */
export function commitOptionEvent(d: CommitDeps, e: OptionEventReport, order: FillOrder, now: Date): { fill: FillRecord; followed: Followed } | null {
  return d.db.transaction(() => {
    const [fill] = insertFills(d.db, [optionEventFill(e)], now);
    if (!fill) return null;
    notifyFill(d.db, fill, order.role, now);
    d.exits.mark(fill.symbol, fillTime(fill));
    const position = d.positionActor(fill.symbol);
    if (!position) throw new Error(`no position actor for ${fill.symbol}: its ${e.kind} cannot be followed`);
    const followed = d.following.follow(position, { order, symbol: fill.symbol, fills: [fill], now });
    if (followed.asked) crashPoint('before_intent_commit');
    return { fill, followed };
  });
}
