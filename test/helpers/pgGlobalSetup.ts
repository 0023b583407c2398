import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { Store } from '../../controller/store/Store.js';
import { startPgCluster } from './pgCluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The throw-away cluster's connection string (database `cordon`), for testStore.ts. */
    pgUrl: string;
  }
}

/**
 * The `postgresql` project's one cluster for the whole run, with a database
 * `cordon_template` migrated to this build's schema: each test's store is a
 * copy of it (CREATE DATABASE … TEMPLATE), so no test pays for migrations.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPgCluster();
  try {
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE cordon_template');
    await admin.end();
    const template = await Store.openUrl(cluster.url.replace('/cordon?', '/cordon_template?'), { maxConnections: 1 });
    await template.close();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  project.provide('pgUrl', cluster.url);
  return () => cluster.stop();
}
