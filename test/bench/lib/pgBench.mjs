// A throw-away PostgreSQL cluster for a benchmark (deploy/pg/throwawayCluster
// from dist/), stopped and its folder removed at exit, on Ctrl-C, on an
// uncaught error and on process.exit from a time bound: `stop()` is the
// orderly way, and a synchronous `pg_ctl stop -m immediate` in an 'exit'
// handler catches every other way out.
//
// The cluster starts as the tests want it: fsync, synchronous_commit and
// full_page_writes off. A benchmark that compares commits with SQLite's
// (synchronous=FULL: durable on return) turns them on with
// `configure({ durable: true })`, which restarts the server (they are on its
// command line, which ALTER SYSTEM cannot override).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgBinDir, pgMissing, startPgCluster } from '../../../dist/deploy/pg/throwawayCluster.js';
import { Store } from '../../../dist/controller/store/Store.js';

let signalsHandled = false;

/** Starts a cluster; throws with the reason when this machine cannot run one. */
export async function benchCluster() {
  const why = pgMissing();
  if (why) throw new Error(`cannot start a PostgreSQL cluster: ${why}`);
  if (!signalsHandled) {
    // Without a handler, SIGINT ends node without running 'exit' handlers.
    signalsHandled = true;
    if (process.listenerCount('SIGINT') === 0) process.on('SIGINT', () => process.exit(130));
    if (process.listenerCount('SIGTERM') === 0) process.on('SIGTERM', () => process.exit(143));
  }
  const cluster = await startPgCluster();
  const data = join(cluster.dir, 'data');
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try {
      if (existsSync(join(data, 'postmaster.pid'))) {
        const ctl = [join(pgBinDir(), 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop'];
        if (userInfo().uid === 0) execFileSync('/usr/sbin/runuser', ['-u', 'postgres', '--', ...ctl], { stdio: 'ignore', timeout: 30_000 });
        else execFileSync(ctl[0], ctl.slice(1), { stdio: 'ignore', timeout: 30_000 });
      }
    } catch {
      // Already stopping (Ctrl-C reaches the postmaster too): the folder goes anyway.
    }
    rmSync(cluster.dir, { recursive: true, force: true });
  };
  process.on('exit', stopNow);
  return {
    url: cluster.url,
    dir: cluster.dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', stopNow);
      await cluster.stop();
    },
    /**
     * Restarts the server with fsync, synchronous_commit and full_page_writes
     * on (`durable`: commits survive a power cut, as SQLite's
     * synchronous=FULL) or off (the tests' setting), and with
     * pg_stat_statements loaded when `statements` (for `topStatements`). The
     * cluster was started with those settings on its command line, which
     * outranks ALTER SYSTEM, so this restarts it with the same command line
     * but for them.
     */
    async configure({ durable, statements = false }) {
      const v = durable ? 'on' : 'off';
      const opts = readFileSync(join(data, 'postmaster.opts'), 'utf8').trim();
      let post = opts.slice(opts.indexOf(' ') + 1);
      for (const k of ['fsync', 'synchronous_commit', 'full_page_writes']) post = post.replace(new RegExp(`"${k}=(on|off)"`), `"${k}=${v}"`);
      if (statements) post += ' "-c" "shared_preload_libraries=pg_stat_statements" "-c" "pg_stat_statements.track=all" "-c" "track_io_timing=on"';
      const ctl = [join(pgBinDir(), 'pg_ctl'), '-D', data, '-o', post, '-l', join(cluster.dir, 'server.log'), '-m', 'fast', '-w', '-t', '60', 'restart'];
      if (userInfo().uid === 0) execFileSync('/usr/sbin/runuser', ['-u', 'postgres', '--', ...ctl], { stdio: 'ignore', timeout: 90_000 });
      else execFileSync(ctl[0], ctl.slice(1), { stdio: 'ignore', timeout: 90_000 });
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      try {
        const { rows } = await c.query("SELECT current_setting('fsync') AS f, current_setting('synchronous_commit') AS s, current_setting('full_page_writes') AS w");
        if (rows[0].f !== v || rows[0].s !== v || rows[0].w !== v) throw new Error(`after the restart: fsync ${rows[0].f}, synchronous_commit ${rows[0].s}, full_page_writes ${rows[0].w}; wanted ${v}`);
        if (statements) await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      } finally {
        await c.end();
      }
    },
    /** The server log's text from byte `from` on (its ERROR lines say which transactions lost a race). */
    logSince(from = 0) {
      try {
        return readFileSync(join(cluster.dir, 'server.log')).subarray(from).toString('utf8');
      } catch {
        return '';
      }
    },
    /** The server's processes (postmaster and its children): CPU ms so far, and proportional memory (Pss, shared buffers split between them). */
    sample() {
      return serverSample(data);
    },
  };
}

/** utime+stime (ms) summed over the postmaster and its children, with those of exited children; Pss (bytes) of the live ones. */
function serverSample(data) {
  let postmaster;
  try {
    postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return { cpuMs: NaN, pss: NaN, processes: 0 };
  }
  let cpuMs = 0;
  let pss = 0;
  let processes = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(name) !== postmaster && Number(f[1]) !== postmaster) continue;
      // The postmaster's cutime/cstime hold the CPU of backends that already exited (a closed connection's).
      const ticks = Number(f[11]) + Number(f[12]) + (Number(name) === postmaster ? Number(f[13]) + Number(f[14]) : 0);
      cpuMs += (ticks * 1000) / 100; // CLK_TCK 100
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${name}/smaps_rollup`, 'utf8'));
      pss += m ? Number(m[1]) * 1024 : 0;
      processes++;
    } catch {
      // The process ended while we read it.
    }
  }
  return { cpuMs, pss, processes };
}

/** utime+stime of one process in ms, its RSS in bytes (VmRSS), from /proc; undefined once it is gone. */
export function procSample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
    return { at: performance.timeOrigin + performance.now(), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / 100, rss };
  } catch {
    return undefined;
  }
}

/** The --engines flag: a comma list of sqlite and postgresql. */
export function parseEngines(text) {
  const list = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean).map((s) => (s === 'pg' || s === 'postgres' ? 'postgresql' : s));
  for (const e of list) if (e !== 'sqlite' && e !== 'postgresql') throw new Error(`--engines: unknown engine "${e}" (sqlite, postgresql)`);
  if (list.length === 0) throw new Error('--engines: name at least one engine');
  return [...new Set(list)];
}

/**
 * Runs `measure(engine, store, cluster)` once on each engine in turn, on a
 * fresh store: a SQLite file in a temporary folder, or a throw-away
 * PostgreSQL cluster (durable commits when `durable`; `cluster` undefined
 * on SQLite). Prints the machine first; returns what each run returned.
 * The folder and the cluster go whatever happens.
 */
export async function onEachEngine(engines, { durable, prefix }, measure) {
  console.log(`${engines.join(' and ')}; ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}, ${new Date().toISOString()}`);
  const results = [];
  for (const engine of engines) {
    if (engine === 'sqlite') {
      const work = mkdtempSync(join(tmpdir(), prefix));
      try {
        const store = await Store.open(join(work, 'bench.db'));
        results.push(await measure('sqlite (file, synchronous=FULL)', store, undefined));
        await store.close();
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    } else {
      const cluster = await benchCluster();
      try {
        await cluster.configure({ durable });
        const store = await Store.openUrl(cluster.url);
        results.push(await measure(`postgresql (Unix socket, ${durable ? 'durable commits' : 'fsync off: not durable'})`, store, cluster));
        await store.close();
      } finally {
        await cluster.stop();
      }
    }
  }
  return results;
}
