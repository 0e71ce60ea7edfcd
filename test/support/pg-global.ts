import { startPgCluster, type PgCluster } from './pg-cluster.js';

/**
 * vitest globalSetup of the integration project: one throwaway PostgreSQL cluster for the whole run,
 * handed to every test file as CT_TEST_PG_URL (the forks inherit the environment), where each file
 * takes its own fresh database (freshDatabase). Starting a cluster per file cost a few seconds each.
 * A CT_TEST_PG_URL already set is used as is; without PostgreSQL nothing is set and each file skips
 * or, with CT_REQUIRE_PG=1, fails as before.
 */
let cluster: PgCluster | undefined;

export async function setup(): Promise<void> {
  if (process.env.CT_TEST_PG_URL) return;
  const started = await startPgCluster({ name: 'run' }).catch(() => undefined);
  if (!started || !('cluster' in started)) return;
  cluster = started.cluster;
  process.env.CT_TEST_PG_URL = cluster.url;
}

export async function teardown(): Promise<void> {
  if (!cluster) return;
  delete process.env.CT_TEST_PG_URL;
  await cluster.stop();
}
