import { CordonError } from '../../proto/runtime/CordonError.js';

/** One window's counts, read from `nft -j list table inet cordon_watch`. */
export interface WatchCounts {
  /** New connections to SMTP ports, per destination. */
  smtp: Map<string, number>;
  /** New connections to scan ports, per destination: its size is the fan-out. */
  fanout: Map<string, number>;
  /** Packets and bytes per destination (only with the flood detector on). */
  flood: Map<string, { packets: number; bytes: number }>;
}

type Elem = string | { elem?: { val?: unknown; counter?: { packets?: unknown; bytes?: unknown } } };
type NftSet = { name?: unknown; table?: unknown; elem?: Elem[] };

/**
 * Parses nft's JSON listing of the watch table. An element counts its
 * counter's packets (each one the first packet of a new connection, a
 * retransmitted SYN included); an element without one counts once. Anything that is not the table's own JSON is
 * refused, naming what was wrong, rather than read as "nothing seen".
 */
export function readWatchSets(json: string): WatchCounts {
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (err) {
    throw new CordonError('internal', `nft -j list table: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(doc?.nftables)) throw new CordonError('internal', 'nft -j list table: no "nftables" array');
  const counts: WatchCounts = { smtp: new Map(), fanout: new Map(), flood: new Map() };
  for (const item of doc.nftables) {
    const set = item.set as NftSet | undefined;
    if (!set || typeof set.name !== 'string' || !Array.isArray(set.elem)) continue;
    const isSmtp = set.name.startsWith('smtp_v');
    const isFanout = set.name.startsWith('fanout_v');
    const isFlood = set.name.startsWith('flood_v');
    if (!isSmtp && !isFanout && !isFlood) continue;
    for (const e of set.elem) {
      const value = typeof e === 'string' ? e : e?.elem?.val;
      if (typeof value !== 'string') continue;
      const packets = typeof e === 'string' ? 1 : Number(e.elem?.counter?.packets ?? 1);
      if (isFlood) {
        const bytes = typeof e === 'string' ? 0 : Number(e.elem?.counter?.bytes ?? 0);
        const was = counts.flood.get(value) ?? { packets: 0, bytes: 0 };
        counts.flood.set(value, { packets: was.packets + (Number.isFinite(packets) ? packets : 0), bytes: was.bytes + (Number.isFinite(bytes) ? bytes : 0) });
        continue;
      }
      const into = isSmtp ? counts.smtp : counts.fanout;
      into.set(value, (into.get(value) ?? 0) + (Number.isFinite(packets) && packets > 0 ? packets : 1));
    }
  }
  return counts;
}
