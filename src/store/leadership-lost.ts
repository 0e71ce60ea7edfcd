/**
 * Thrown by Database.assertLeading() inside the transaction that would mark an order as sent, when
 * another instance took the account over (its epoch moved on), or as an order leaves when the
 * leader's session was not heard from lately (AccountLeader.assertLease): nothing is sent, and the
 * runtime that hit it steps down (src/runtime/account-leader.ts).
 */
export class LeadershipLost extends Error {
  /** `why`: what tells it, when not the epoch read (the leader's session not heard from: account-leader.ts). */
  constructor(readonly accountId: string, readonly epoch: number, readonly current: number | null, why?: string) {
    super(`leadership of account ${accountId} lost: acting under epoch ${epoch}, ${why ?? `the account is at ${current ?? 'no leader'}`}`);
    this.name = 'LeadershipLost';
  }
}
