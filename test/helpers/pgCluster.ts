/** The throw-away PostgreSQL cluster lives with the demo's (deploy/pg), which tests and benchmarks share. */
export { pgBinDir, pgMissing, startPgCluster, type PgCluster } from '../../deploy/pg/throwawayCluster.js';
