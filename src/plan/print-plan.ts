import type { AccountPlan, Plan, PlannedStop } from './types.js';

/**
 * The plan for people (a header per account, then the four sections) or as JSON: exactly
 * `{ stops, adopt, leave, cooldowns }`; with several accounts, one such object whose items carry
 * their `account`.
 */

export const SECTIONS = {
  stops: 'Stops it would place',
  adopt: 'Orders it would adopt',
  leave: 'Positions it would leave alone',
  cooldowns: 'Cooldowns it would start',
} as const;

export function planJson(plans: readonly AccountPlan[]): string {
  if (plans.length === 1) return `${JSON.stringify(plans[0]!.plan, null, 2)}\n`;
  const tag = <T extends object>(account: string, items: readonly T[]) => items.map((i) => ({ account, ...i }));
  const all: Plan = { stops: [], adopt: [], leave: [], cooldowns: [] };
  for (const { header, plan } of plans) {
    all.stops.push(...tag(header.account, plan.stops));
    all.adopt.push(...tag(header.account, plan.adopt));
    all.leave.push(...tag(header.account, plan.leave));
    all.cooldowns.push(...tag(header.account, plan.cooldowns));
  }
  return `${JSON.stringify(all, null, 2)}\n`;
}

export function planText(plans: readonly AccountPlan[]): string {
  return plans.map(accountText).join('\n');
}

const indent = (text: string) => `      ${text}`;

function order(s: PlannedStop): string {
  const level =
    s.type === 'trailing_stop'
      ? `trail ${s.trail_percent}%${s.level_now ? ` (about ${s.level_now} now)` : ''}`
      : `stop ${s.stop_price}${s.limit_price ? ` limit ${s.limit_price}` : ''}`;
  return `${s.side} ${s.qty} ${s.type} ${level} ${s.time_in_force}`;
}

function accountText({ header: h, plan }: AccountPlan): string {
  const lines: string[] = [];
  const who = [h.mode, h.broker, h.accountNumber ? `account ${h.accountNumber}${h.accountStatus ? ` (${h.accountStatus})` : ''}` : null].filter(Boolean).join(', ');
  lines.push(`crazy-trade plan for account "${h.account}": ${who}`);
  lines.push(`  store     ${h.store}`);
  lines.push(
    h.adopt === 'protect'
      ? '  adoption  CT_ADOPT=protect (the default): every position found gets a stop, those opened outside this service too'
      : '  adoption  CT_ADOPT=record: positions opened outside this service are recorded, not protected',
  );
  lines.push(`  stops     trail ${h.trailPercent}% (CT_TRAIL_PERCENT); a ${h.cooldownMinutes}-minute cooldown after an exit (CT_COOLDOWN_MINUTES)`);
  if (h.session) lines.push(`  market    ${h.session === 'regular' ? 'regular session' : `${h.session}: equity stops act from the next regular session`} (Alpaca's clock)`);
  lines.push(`  sent      nothing: ${h.reads} GET requests, no order request`);
  for (const note of h.notes) lines.push(`  note      ${note}`);

  lines.push('', `${SECTIONS.stops} (${plan.stops.length})`);
  if (plan.stops.length === 0) lines.push('  none');
  for (const s of plan.stops) {
    const action = s.action === 'place' ? 'place  ' : s.action === 'replace' ? `replace ${s.order_id} with` : `cancel ${s.order_id}:`;
    lines.push(`  ${s.symbol.padEnd(9)} ${action} ${order(s)}`, indent(s.reason));
  }

  lines.push('', `${SECTIONS.adopt} (${plan.adopt.length})`);
  if (plan.adopt.length === 0) lines.push('  none');
  for (const a of plan.adopt) {
    const price = [a.limit_price ? `limit ${a.limit_price}` : null, a.stop_price ? `stop ${a.stop_price}` : null, a.trail_percent ? `trail ${a.trail_percent}%` : null].filter(Boolean).join(' ');
    lines.push(`  ${a.symbol.padEnd(9)} ${a.side} ${a.qty ?? '(notional)'} ${a.type}${price ? ` ${price}` : ''} ${a.status}, order ${a.order_id}`, indent(a.reason));
  }

  lines.push('', `${SECTIONS.leave} (${plan.leave.length})`);
  if (plan.leave.length === 0) lines.push('  none');
  for (const l of plan.leave) {
    lines.push(`  ${l.symbol.padEnd(9)} position ${l.qty}, covered ${l.covered}${l.broker_qty !== undefined ? `, broker ${l.broker_qty}` : ''}`, indent(l.reason));
  }

  lines.push('', `${SECTIONS.cooldowns} (${plan.cooldowns.length})`);
  if (plan.cooldowns.length === 0) lines.push('  none');
  for (const c of plan.cooldowns) lines.push(`  ${c.symbol.padEnd(9)} until ${c.until}`, indent(c.reason));
  return `${lines.join('\n')}\n`;
}
