/**
 * Thrown by Database.assertLeading() inside the transaction that would mark an order as sent, when
 * another instance took the account over (its epoch moved on): nothing is sent, and the runtime that
 * hit it steps down (src/runtime/account-leader.ts).
 */
export class LeadershipLost extends Error {
  constructor(readonly accountId: string, readonly epoch: number, readonly current: number | null) {
    super(`leadership of account ${accountId} lost: acting under epoch ${epoch}, the account is at ${current ?? 'no leader'}`);
    this.name = 'LeadershipLost';
  }
}
