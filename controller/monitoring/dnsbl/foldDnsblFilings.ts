/** The audit log's subject of every DNSBL filing and delisting: read back whole at start. */
export const DNSBL_AUDIT_SUBJECT = 'dnsbl';
export const DNSBL_FILED = 'dnsbl.filed';
export const DNSBL_DELISTED = 'dnsbl.delisted';

/** What both audit entries record about a listing's episode. */
interface EpisodeDetail {
  zone: string;
  ip: string;
  host: string;
  /** The listing's episode for this address and zone (1, then 2 after a delisting and a new listing, …). */
  episode: number;
  /** The reportable codes this entry is about. */
  codes: string[];
  /** Every reportable list at the time. */
  lists: string[];
  /** When the check saw it (ISO). */
  checkedAt: string;
}

/** What `dnsbl.filed` records: one complaint filed for a listing. */
export interface FiledDetail extends EpisodeDetail {
  complaint: string;
  incident: string | null;
  outcome: string;
}

/** What `dnsbl.delisted` records: an episode ended. */
export interface DelistedDetail extends EpisodeDetail {
  incidents: string[];
}

/** One address and zone as filed: its current (or last) episode. */
export interface FiledListing {
  zone: string;
  ip: string;
  hostId: string;
  episode: number;
  /** Codes filed in this episode. */
  codes: string[];
  lists: string[];
  /** When the episode's first filing was seen. */
  since: Date;
  complaints: { complaintId: string; incidentId: string | undefined }[];
  /** When the episode ended; undefined while the listing stands. */
  delistedAt: Date | undefined;
}

/** The key of an address on a zone (the ip canonical, as Listing.ip is). */
export const pairKey = (zone: string, ip: string): string => `${zone} ${ip}`;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * The filings' state from the audit entries of DNSBL_AUDIT_SUBJECT, in the
 * order written (pure). A filing after a delisting (or the first one)
 * starts a new episode; a filing within an episode adds its codes; a
 * delisting ends the episode it names, and only that one. Entries this
 * version cannot read are skipped.
 */
export function foldDnsblFilings(entries: readonly { action: string; detail: unknown }[]): Map<string, FiledListing> {
  const state = new Map<string, FiledListing>();
  for (const e of entries) {
    const d = e.detail as Partial<FiledDetail & DelistedDetail> | null;
    if (typeof d?.zone !== 'string' || typeof d.ip !== 'string') continue;
    const key = pairKey(d.zone, d.ip);
    const current = state.get(key);
    if (e.action === DNSBL_FILED) {
      const complaint = { complaintId: String(d.complaint ?? ''), incidentId: typeof d.incident === 'string' ? d.incident : undefined };
      if (current && current.delistedAt === undefined) {
        current.codes = [...new Set([...current.codes, ...strings(d.codes)])];
        current.lists = strings(d.lists);
        current.complaints.push(complaint);
      } else {
        state.set(key, {
          zone: d.zone,
          ip: d.ip,
          hostId: String(d.host ?? ''),
          episode: (current?.episode ?? 0) + 1,
          codes: strings(d.codes),
          lists: strings(d.lists),
          since: new Date(String(d.checkedAt)),
          complaints: [complaint],
          delistedAt: undefined,
        });
      }
    } else if (e.action === DNSBL_DELISTED && current && current.delistedAt === undefined && d.episode === current.episode) {
      current.delistedAt = new Date(String(d.checkedAt));
    }
  }
  return state;
}
