import pg from 'pg';
import { LAB_OPERATORS, labCtl, labProbe, type LabInfo } from '../lab/lab.js';
import { poll, running } from '../lab/processes.js';
import type { LabHost } from '../lab/topology.js';
import { say, show, type Checks } from './narrate.js';

/**
 * The `--ha` chapter: kill -9 of the replica holding `host`'s agent stream
 * while the host is cut off, then checks that the agent is back on a
 * survivor, that the cut is still in force (the agent enforces what it
 * holds; it needs a controller only for changes) and that every agent is
 * on a survivor. The rest of the story then runs on the survivors: labCtl
 * takes the first replica still running, the page and desk bridges the
 * first that accepts. Which replica holds the stream is read where the
 * replicas write it, `agent_links` in the shared database.
 */
export async function killStreamHolder(info: LabInfo, host: LabHost, checks: Checks): Promise<void> {
  if (!info.postgres) throw new Error('the failover chapter needs the lab on PostgreSQL (--ha)');
  const db = new pg.Client({ connectionString: info.postgres.url });
  await db.connect();
  try {
    const holder = async () =>
      (await db.query<{ replica_id: string }>('SELECT replica_id FROM agent_links WHERE host_id = $1 AND live = 1', [host.id])).rows[0]?.replica_id;
    const victimId = await holder();
    const victim = info.controllers.find((c) => c.id === victimId);
    checks.ok(`the database names the replica holding ${host.id}'s agent stream`, victim !== undefined, victimId ?? 'no live link');
    if (!victim) return;
    const survivors = info.controllers.filter((c) => c !== victim).map((c) => c.id);
    say(`killing ${victim.id} (kill -9, pid ${victim.pid}), which holds ${host.id}'s stream, while ${host.id} is cut off; ${survivors.join(' and ')} carry on`);
    const killedAt = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    await poll(() => (running(victim.pid) ? undefined : true), 5_000);
    const moved = await poll(async () => {
      const now = await holder();
      return now !== undefined && now !== victim.id ? now : undefined;
    }, 20_000);
    const seconds = ((performance.now() - killedAt) / 1000).toFixed(1);
    if (moved) say(`${host.id}'s agent is back on ${moved} after ${seconds} s`);
    checks.ok(`${host.id}'s agent reconnected to a surviving replica`, moved !== undefined && survivors.includes(moved), moved ? `${moved}, ${seconds} s after the kill` : `still ${victim.id} after ${seconds} s`);

    const t = info.topology;
    const out80 = labProbe(host.ns, t.inet4, 80);
    const in22 = labProbe(t.inetNs, host.pub4, 22);
    checks.ok(`${host.id} is still cut with its agent on ${moved ?? 'no replica'}: out to port 80 and in from the internet both fail`, out80 !== 'connected' && in22 !== 'connected', `out ${out80}, in ${in22}`);
    // The dead replica's other agents move too; until its silence passes 10 s the others still list them as it last wrote.
    const links = async () => (await db.query<{ host_id: string; replica_id: string }>('SELECT host_id, replica_id FROM agent_links WHERE live = 1 ORDER BY host_id')).rows;
    const spread = await poll(async () => {
      const now = await links();
      return t.hosts.every((h) => now.some((l) => l.host_id === h.id && survivors.includes(l.replica_id))) ? now : undefined;
    }, 20_000);
    const where = (spread ?? (await links())).map((l) => `${l.host_id} on ${l.replica_id}`).join(', ');
    checks.ok('every agent is connected to a survivor', spread !== undefined, where);
    say(`cordonctl now goes to ${survivors[0]}, which sees the whole fleet:`);
    show(labCtl(info, LAB_OPERATORS.operator, 'agents'));
  } finally {
    await db.end();
  }
}
