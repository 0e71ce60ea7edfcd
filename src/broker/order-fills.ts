import type { ExecutionReport } from '../domain/reports.js';
import type { Logger } from '../log.js';
import { parseFillActivity } from './adapter.js';
import { ACTIVITY_PAGE_SIZE, type BrokerClient } from './client.js';

/**
 * One order's fills, each as Alpaca executed it: `GET /v2/account/activities?activity_types=FILL&order_id=<id>`
 * (the `order_id` filter, Alpaca changelog 2026-07-29; alpaca-rules.md "Streams and activities"). One
 * request for an order of up to 100 fills, where finding them by paging the account's activities from
 * the order's time takes a page per 100 fills of every order since. SDK 4.0.2's `getAccountActivities`
 * has no `orderId` parameter, so a pre-middleware of this call adds it to the URL (after the client's
 * own, which rate-limits and counts the request).
 *
 * Null when the answer cannot be trusted as that order's list (a host that ignores the filter answers
 * other orders' fills): the caller reads the order instead. Network trouble throws.
 */
export async function fetchOrderFills(client: BrokerClient, log: Logger, orderId: string): Promise<ExecutionReport[] | null> {
  const api = client.activities.withPreMiddleware(async ({ url, init }) => {
    const u = new URL(url);
    u.searchParams.set('order_id', orderId);
    return { url: u.toString(), init };
  });
  const out: ExecutionReport[] = [];
  let token: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const page = await api.getAccountActivities({ activityTypes: ['FILL'], direction: 'asc', pageSize: ACTIVITY_PAGE_SIZE, pageToken: token });
    for (const raw of page) {
      const parsed = parseFillActivity(raw);
      if (!parsed.ok) {
        log.warn({ event: 'broker_payload_rejected', source: 'activity', order_id: orderId, reason: parsed.reason }, 'skipped a malformed activity');
        continue;
      }
      if (parsed.value.orderId !== orderId) {
        log.warn({ event: 'order_filter_ignored', order_id: orderId, other_order_id: parsed.value.orderId }, 'activities by order_id answered another order\'s fill; reading the order instead');
        return null;
      }
      out.push(parsed.value);
    }
    const last = (page[page.length - 1] as { id?: string } | undefined)?.id;
    if (page.length < ACTIVITY_PAGE_SIZE || !last || seen.has(last)) return out;
    seen.add(last);
    token = last;
  }
}
