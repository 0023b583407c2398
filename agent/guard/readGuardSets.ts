import { CordonError } from '../../proto/runtime/CordonError.js';

/** What one listing of the guard table holds. */
export interface GuardListing {
  /** Banned sources, with the seconds the kernel says each has left (undefined when it did not say). */
  bans: Map<string, { family: 4 | 6; expiresS: number | undefined }>;
  /** Per source, the services whose meter holds it (the ones it connected to lately). */
  meters: Map<string, Set<string>>;
}

type Elem = string | { elem?: { val?: unknown; expires?: unknown } };

/**
 * Parses `nft -j list table inet cordon_guard`. Anything that is not the
 * table's JSON is refused, naming what was wrong, rather than read as "no
 * bans" (which would make the guard re-add every ban it holds).
 */
export function readGuardSets(json: string): GuardListing {
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (err) {
    throw new CordonError('internal', `nft -j list table: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(doc?.nftables)) throw new CordonError('internal', 'nft -j list table: no "nftables" array');
  const out: GuardListing = { bans: new Map(), meters: new Map() };
  for (const item of doc.nftables) {
    const set = item.set as { name?: unknown; elem?: Elem[] } | undefined;
    if (!set || typeof set.name !== 'string' || !Array.isArray(set.elem)) continue;
    const ban = /^ban_v([46])$/.exec(set.name);
    const meter = /^m_([a-z0-9]+)_v[46]$/.exec(set.name);
    if (!ban && !meter) continue;
    for (const e of set.elem) {
      const value = typeof e === 'string' ? e : e?.elem?.val;
      if (typeof value !== 'string') continue;
      if (ban) {
        const expires = typeof e === 'string' ? undefined : Number(e.elem?.expires);
        out.bans.set(value, { family: ban[1] === '4' ? 4 : 6, expiresS: Number.isFinite(expires) ? expires : undefined });
      } else {
        const services = out.meters.get(value) ?? new Set<string>();
        services.add(meter![1]!);
        out.meters.set(value, services);
      }
    }
  }
  return out;
}
