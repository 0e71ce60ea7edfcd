/** What the table's functions need of a connection: pg's Client and Pool, or the leader's LockSession. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/**
 * Who leads each account (PostgreSQL only). Outside the accounts' schemas: every instance on the
 * database reads it. `epoch` goes up at every takeover; a store acts under the epoch it was opened
 * with and stops sending once the row says otherwise (Database.assertLeading).
 */
export const LEADERS_SCHEMA = 'crazy_trade';
export const LEADERS_TABLE = `${LEADERS_SCHEMA}.leaders`;

export interface LeaderRow {
  account_id: string;
  account_name: string;
  epoch: number;
  leader: string;
  since: string;
  heartbeat_at: string;
}

/** Creates the table if missing; safe when several instances start at once (an advisory lock orders them). */
export async function ensureLeaderTable(client: Queryable): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(hashtextextended('crazy-trade:leader-table', 0))`);
    await client.query(`create schema if not exists ${LEADERS_SCHEMA}`);
    await client.query(`create table if not exists ${LEADERS_TABLE} (
      account_id text primary key,
      account_name text not null,
      epoch bigint not null,
      leader text not null,
      since text not null,
      heartbeat_at text not null
    )`);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

export async function readLeaders(client: Queryable): Promise<LeaderRow[]> {
  const res = await client.query(`select account_id, account_name, epoch::int8 as epoch, leader, since, heartbeat_at from ${LEADERS_TABLE} order by account_name`);
  return res.rows.map((r) => ({ ...r, epoch: Number(r.epoch) })) as LeaderRow[];
}
