import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PG_ROOT = '/usr/lib/postgresql';

/** Debian's PostgreSQL binaries (initdb, pg_ctl), newest major first; undefined when the package is absent. */
export function pgBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  const dir = majors.map((m) => join(PG_ROOT, m, 'bin')).find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  return dir;
}

/** Why a throw-away PostgreSQL cluster cannot run here, or undefined when it can. */
export function pgMissing(): string | undefined {
  if (!pgBinDir()) return `no PostgreSQL under ${PG_ROOT} (apt-get install -y postgresql; .ci/run installs it)`;
  if (userInfo().uid === 0 && !existsSync('/usr/sbin/runuser')) return 'running as root without runuser to drop to the postgres user';
  return undefined;
}

export interface PgCluster {
  /** A connection string for node-postgres: the Unix socket in the cluster's own folder, no TCP port. */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * A throw-away PostgreSQL cluster for a test file, the demo's --ha story or
 * a benchmark (Debian's `postgresql` package): initdb in a temporary
 * folder, started by pg_ctl with only a Unix socket in that folder (no TCP,
 * so nothing else on the machine can reach it and no port can clash), trust
 * authentication for the one role `cordon`, fsync off (its data need
 * not survive a power cut: never use this for a real store). As root, initdb and the server run as the
 * unprivileged `postgres` user, as PostgreSQL requires. `stop()` stops the
 * server immediately and removes the folder, also after a failed start.
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error(pgMissing());
  const dir = mkdtempSync(join(tmpdir(), 'cordon-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  const as = (cmd: string, args: string[]) => (asRoot ? run('/usr/sbin/runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const stop = async () => {
    if (existsSync(join(data, 'postmaster.pid'))) await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await as(join(bin, 'initdb'), ['-D', data, '-U', 'cordon', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const options = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
    await as(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    await as(join(bin, 'createdb'), ['-h', dir, '-U', 'cordon', 'cordon']);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://cordon@/cordon?host=${encodeURIComponent(dir)}`, dir, stop };
}
