/**
 * The column and key vocabulary of structured feeds: which names hold the
 * offender's address, the event time, its zone, the type of abuse, and the
 * details worth quoting. A feed is read by these names, never by a parser
 * per provider.
 *
 * A name is a path: a CSV header `source.ip` and a JSON key `{"Source":{"Ip"}}`
 * are both the segments [source, ip]. Each segment is compared without case
 * or separators, so `SourceIp`, `source_ip`, `source ip`, `Source-IP` and
 * `source.ip` are the same name. A path matches a role when one of its
 * endings (`ip`, `source.ip`, `event.source.ip`…) is a name of that role,
 * and, for an address, when no segment of the path names the other side:
 * `destination.ip`, `{"victim":{"ip"}}`, `dst_ip`, `cc_ip`, `honeypot.ip`
 * are never the offender.
 *
 * How the names were chosen: the fields of the formats reporters use for
 * feeds — Shadowserver's report columns (`ip`, `src_ip`, `timestamp`,
 * `infection`, `tag`), IntelMQ's data format that CERTs exchange
 * (`source.ip`, `time.source`, `classification.type`/`taxonomy`), CERT-EU
 * and CERT-Bund CSV (`source ip`, `source time`, `malware`), abuse.ch
 * (`first_seen_utc`, `dst_ip` for a C2, `threat`), AbuseIPDB
 * (`IPAddress`, `ReportDate`/`reportedAt`, `Categories`), blocklist and
 * honeypot exports (`src`, `attacker_ip`, `ts`, `first_seen`/`last_seen`),
 * Elastic ECS (`source.ip`, `@timestamp`, `event.category`) — reduced to
 * their meaning, plus the plain English words for each (`address`,
 * `offender`, `date`).
 */

export type FeedRole = 'offender' | 'time' | 'zone' | 'type' | 'family' | 'port' | 'asn' | 'hostname' | 'url';

/** One key of a record: its segments as written, and as compared. */
export interface FeedKey {
  /** As written, for evidence: "source.ip", "Source.Ip". */
  name: string;
  /** Lower case, letters and digits only, one per segment. */
  norm: string[];
}

/**
 * Names of each role, normalised, most telling first: when a record has
 * several, the first that holds a value wins (`src_ip` before `ip`,
 * `first_seen` before `last_seen`).
 */
const ROLE_NAMES: Readonly<Record<FeedRole, readonly string[]>> = {
  offender: [
    'srcip', 'sourceip', 'srcaddr', 'srcaddress', 'sourceaddr', 'sourceaddress', 'sourceipaddress', 'srcipaddress', 'sourceipv4', 'sourceipv6', 'srcipv4', 'srcipv6',
    'attackerip', 'attackeraddress', 'attackingip', 'offenderip', 'offendingip', 'abuserip', 'abusingip', 'reportedip', 'infectedip', 'botip', 'scannerip',
    'saddr', 'ip', 'ipaddress', 'ipaddr', 'ipv4', 'ipv6', 'ipv4address', 'ipv6address', 'address', 'addr', 'hostip', 'hostaddress',
    'src', 'source', 'attacker', 'offender', 'host',
  ],
  time: [
    'eventtime', 'eventdate', 'eventtimestamp', 'timesource', 'sourcetime', 'attacktime', 'incidenttime', 'detecttime', 'detectiontime', 'detectedat', 'detected',
    'timestamp', 'time', 'datetime', 'date', 'ts', 'timeutc', 'timestamputc', 'datetimeutc', 'utc',
    'firstseen', 'firstseenutc', 'firstseenat', 'firsttime', 'starttime', 'start',
    'reportdate', 'reportedat', 'reporttime', 'dateadded', 'lastseen', 'lastseenutc', 'lastseenat', 'lasttime', 'seen',
    'observationtime', 'timeobservation', 'createdat', 'created',
  ],
  zone: ['timezone', 'tz', 'zone', 'utcoffset', 'timezoneoffset', 'tzoffset', 'offset'],
  type: [
    'classificationtype', 'classificationidentifier', 'type', 'eventtype', 'threattype', 'threat', 'attacktype', 'abusetype', 'incidenttype', 'reporttype', 'feedtype',
    'category', 'categories', 'eventcategory', 'classification', 'classificationtaxonomy', 'taxonomy', 'feed', 'feedname', 'list', 'listname', 'eventaction', 'action', 'attack', 'attackname', 'alertsignature', 'signature', 'rulename', 'reason', 'description', 'comment',
  ],
  family: ['malware', 'malwarefamily', 'malwarename', 'family', 'infection', 'botnet', 'tag', 'tags', 'threatname'],
  port: ['srcport', 'sourceport', 'attackerport', 'port'],
  asn: ['srcasn', 'sourceasn', 'asn', 'as', 'asnumber', 'sourceasnumber'],
  hostname: ['srchostname', 'sourcehostname', 'sourcefqdn', 'sourcereversedns', 'hostname', 'fqdn', 'rdns', 'reversedns', 'domain', 'domainname', 'host'],
  url: ['srcurl', 'sourceurl', 'url', 'uri', 'link'],
};

/**
 * Words that name the other side of the event: an address under one of
 * them is a destination, a victim, a trap or the reporter's own system,
 * never the offender (`cc` is also the C&C, `c&c` written without its
 * ampersand).
 */
const OTHER_SIDE = new Set([
  'dst', 'dest', 'destination', 'victim', 'target', 'targeted', 'sinkhole', 'cc', 'c2', 'cnc', 'candc', 'server', 'honeypot', 'honeypots', 'sensor', 'sensors',
  'reporter', 'reporting', 'observer', 'trap', 'referer', 'referrer', 'upstream', 'local', 'our', 'recipient',
  // The feed's own description (its URL, its provider), not the event.
  'feed', 'provider',
]);

/** A header or key as its segments: dots (and JSON nesting) separate them; case, blanks, `_` and `-` do not matter. */
export function feedKey(segments: readonly string[]): FeedKey {
  const parts = segments.flatMap((s) => s.split('.'));
  return { name: segments.join('.'), norm: parts.map((p) => p.toLowerCase().replace(/[^a-z0-9]/g, '')).filter((p) => p !== '') };
}

/** The words of one segment as written: `dst_ip` → dst, ip; `SourceIp` → source, ip; `C&C Server` → c, c, server (and cc via the whole). */
function words(raw: string): string[] {
  const spaced = raw.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return spaced.split(/[^a-z0-9&]+/).flatMap((w) => [w, w.replace(/&/g, '')]).filter((w) => w !== '');
}

/** Whether any part of the key as written names the other side (dst, victim, c2, honeypot…). */
function namesOtherSide(key: FeedKey): boolean {
  return key.name.split('.').some((segment) => words(segment).some((w) => OTHER_SIDE.has(w)));
}

/** Rank of `key` for `role` (lower is better), or undefined when it is not a name of that role. */
export function roleRank(key: FeedKey, role: FeedRole): number | undefined {
  const names = ROLE_NAMES[role];
  let best: number | undefined;
  // Every ending of the path: [a, b, c] tries "abc", "bc", "c".
  for (let from = 0; from < key.norm.length; from++) {
    const ending = key.norm.slice(from).join('');
    let at = names.indexOf(ending);
    // "Dateadded (UTC)", "first_seen_utc", "time_gmt": a time column that names its zone.
    if (at < 0 && role === 'time' && /.(utc|gmt)$/.test(ending)) at = names.indexOf(ending.slice(0, -3));
    if (at >= 0 && (best === undefined || at < best)) best = at;
  }
  if (best === undefined) return undefined;
  // An address, a port or a hostname under the other side's name belongs to the other side.
  if ((role === 'offender' || role === 'port' || role === 'hostname' || role === 'url' || role === 'asn') && namesOtherSide(key)) return undefined;
  return best;
}

/** For each role, the indexes of the keys that hold it, best first. */
export type RoleColumns = Readonly<Record<FeedRole, readonly number[]>>;

const ROLES = Object.keys(ROLE_NAMES) as FeedRole[];

/** Which keys of a header (or of one JSON record) hold which role. */
export function roleColumns(keys: readonly FeedKey[]): RoleColumns {
  const out = {} as Record<FeedRole, number[]>;
  for (const role of ROLES) {
    const ranked: [number, number][] = [];
    keys.forEach((k, i) => {
      const r = roleRank(k, role);
      if (r !== undefined) ranked.push([r, i]);
    });
    out[role] = ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  }
  return out;
}

/** Whether a header names an offender column, or a URL column (whose host may be an address): the least a table must have to be read as a feed. */
export function hasOffenderColumn(keys: readonly FeedKey[]): boolean {
  return keys.some((k) => roleRank(k, 'offender') !== undefined || roleRank(k, 'url') !== undefined);
}
