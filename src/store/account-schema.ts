/**
 * The PostgreSQL schema that holds one account's tables: named after the account's id (GET
 * /v2/account), so every instance on the database finds the same one whatever it calls the account.
 */
export function accountSchema(accountId: string): string {
  const id = accountId.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (id.length === 0) throw new Error(`account id ${JSON.stringify(accountId)} has no letters or digits`);
  return `acct_${id}`.slice(0, 63);
}
