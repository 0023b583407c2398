import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { pgBinDir, pgMissing, startPgCluster } from '../pg/throwawayCluster.js';
import { running, sleep } from './processes.js';

/** Where the lab notes its PostgreSQL cluster's folder, so that `lab down` finds it after a crashed run too. */
const RECORD = 'postgres.json';

export interface LabPostgres {
  /** node-postgres connection string (the cluster's Unix socket). */
  url: string;
  /** The throw-away cluster's folder (data, socket, server log); removed by labDown. */
  dir: string;
}

/**
 * Why the lab cannot run on PostgreSQL here, as one line naming what to
 * do, or undefined when it can. The lab does not install PostgreSQL
 * itself: only `--ha` needs it.
 */
export function labPostgresMissing(what: string): string | undefined {
  if (!pgBinDir()) return `${what} needs PostgreSQL (initdb and pg_ctl under /usr/lib/postgresql/*/bin): apt-get install -y postgresql`;
  const why = pgMissing();
  return why === undefined ? undefined : `${what} cannot start PostgreSQL: ${why}`;
}

/**
 * Starts a throw-away PostgreSQL cluster for the lab's controller replicas
 * (deploy/pg: Unix socket only, in its own temporary folder, run as the
 * postgres user) and records its folder in the lab folder.
 */
export async function startLabPostgres(labDir: string): Promise<LabPostgres> {
  const cluster = await startPgCluster();
  const pg: LabPostgres = { url: cluster.url, dir: cluster.dir };
  writeFileSync(join(labDir, RECORD), JSON.stringify(pg) + '\n');
  return pg;
}

/**
 * Stops the cluster the lab folder records and removes its folder.
 * Idempotent; works without the process that started it (a crashed run):
 * the postmaster's pid comes from the cluster's own postmaster.pid, and only
 * a postgres process is signalled. SIGQUIT is PostgreSQL's immediate
 * shutdown (its data is thrown away anyway); SIGKILL if it lingers.
 * Returns the folder it removed, if any.
 */
export async function stopLabPostgres(labDir: string): Promise<string | undefined> {
  const record = join(labDir, RECORD);
  if (!existsSync(record)) return undefined;
  const { dir } = JSON.parse(readFileSync(record, 'utf8')) as LabPostgres;
  // Only a folder startPgCluster made: a damaged record must not name anything else to delete.
  if (!isAbsolute(dir) || !basename(dir).startsWith('cordon-pg-')) throw new Error(`${record} names ${dir}, not a throw-away cluster's folder; remove it by hand`);
  const pid = postmasterPid(dir);
  if (pid !== undefined) {
    process.kill(pid, 'SIGQUIT');
    const deadline = Date.now() + 5_000;
    while (running(pid) && Date.now() < deadline) await sleep(50);
    if (running(pid)) process.kill(pid, 'SIGKILL');
    while (running(pid) && Date.now() < deadline + 2_000) await sleep(50);
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(record, { force: true });
  return dir;
}

/** The running postmaster of the cluster in `dir`, checked to be a postgres process (a stale pid file may name another). */
function postmasterPid(dir: string): number | undefined {
  const file = join(dir, 'data', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres') ? pid : undefined;
  } catch {
    return undefined;
  }
}

