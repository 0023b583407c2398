import { XMLParser } from 'fast-xml-parser';
import { canonicalIp } from '../canonicalIp.js';
import { declineWith } from '../declineWith.js';
import { checkLimit, DEFAULT_INTAKE_LIMITS, isIntakeLimitError } from '../limits.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { readUrlIp } from './arfIp.js';
import { iodefCategory } from './iodefCategory.js';

/**
 * IODEF incident reports: RFC 5070 (version 1.00) and RFC 7970 (2.0),
 * attached, as a bare XML file or pasted in the text. The offender is the
 * Address of a Node of a System whose category is "source" (RFC 5070
 * §3.17, RFC 7970 §3.18): never "target", "sensor", "intermediate",
 * "infrastructure" or any other. One complaint per source address and
 * EventData, with the nearest Assessment's category and the nearest
 * DetectTime (else StartTime).
 *
 * XML safety: no DTD is read. A document with a DTD internal subset or an
 * entity declaration is refused with a reason; entity references are never
 * expanded (processEntities off; the five predefined ones are decoded by
 * hand in text values).
 */

type Xml = Record<string, unknown>;

const ARRAYS = new Set(['Incident', 'EventData', 'Flow', 'System', 'Node', 'Address', 'Impact', 'SystemImpact', 'Description', 'Contact', 'Method', 'Reference', 'ReferenceName', 'NodeName', 'DomainData', 'Name']);
const xml = new XMLParser({
  removeNSPrefix: true, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true,
  processEntities: false, isArray: (name) => ARRAYS.has(name),
});

function list(node: unknown, name: string): Xml[] {
  const value = node && typeof node === 'object' ? (node as Xml)[name] : undefined;
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items.map((v) => (typeof v === 'object' && v !== null ? (v as Xml) : { '#text': v }));
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function text(node: unknown): string {
  const raw = typeof node === 'string' ? node : node && typeof node === 'object' ? (node as Xml)['#text'] : undefined;
  return typeof raw === 'string' || typeof raw === 'number' ? String(raw).replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => PREDEFINED[e]!).trim() : '';
}

function attr(node: Xml, name: string): string {
  return typeof node[`@_${name}`] === 'string' ? (node[`@_${name}`] as string) : '';
}

function firstTime(...nodes: unknown[]): Date | undefined {
  for (const n of nodes) {
    for (const name of ['DetectTime', 'StartTime']) {
      const t = parseReportDate(text(list(n, name)[0]));
      if (t) return t;
    }
  }
  return undefined;
}

function impactsOf(node: unknown): { type: string; completion: string }[] {
  return list(node, 'Assessment').flatMap((a) => [...list(a, 'Impact'), ...list(a, 'SystemImpact')]).map((i) => ({ type: attr(i, 'type'), completion: attr(i, 'completion') }));
}

function wordsOf(node: unknown): string {
  const methods = list(node, 'Method').flatMap((m) => [...list(m, 'Description'), ...list(m, 'Reference').flatMap((r) => [...list(r, 'ReferenceName'), ...list(r, 'Description')])]);
  return [...list(node, 'Description'), ...methods, ...list(node, 'Assessment').flatMap((a) => list(a, 'Impact'))].map(text).join('\n');
}

/** The source addresses of one System: ipv4-addr/ipv6-addr (and a single-host net), a site-uri on an IP literal. Host names go to `hosts`. */
function sourceAddresses(system: Xml, hosts: string[]): string[] {
  const out: string[] = [];
  for (const node of list(system, 'Node')) {
    for (const address of list(node, 'Address')) {
      const category = attr(address, 'category') || 'ipv4-addr'; // RFC 5070 §3.18.1: the default
      const value = text(address);
      if (category === 'ipv4-addr' || category === 'ipv6-addr') {
        const ip = canonicalIp(value);
        if (ip) out.push(ip);
      } else if (category === 'ipv4-net' || category === 'ipv6-net') {
        const m = /^([^/]+)\/(\d+)$/.exec(value);
        const ip = m && canonicalIp(m[1]!);
        if (ip && m![2] === (ip.includes(':') ? '128' : '32')) out.push(ip);
      } else if (category === 'site-uri') {
        const ip = readUrlIp(value);
        if (ip) out.push(ip);
        else if (value) hosts.push(value);
      }
    }
    for (const name of [...list(node, 'NodeName'), ...list(node, 'DomainData').flatMap((d) => list(d, 'Name'))]) hosts.push(text(name));
  }
  return out;
}

interface Scope {
  incident: Xml;
  chain: Xml[]; // the EventData elements from the incident down to this one
}

function* eventScopes(incident: Xml, parent: Xml, chain: Xml[], depth: number): Generator<Scope> {
  if (depth > 16) return;
  for (const ev of list(parent, 'EventData')) {
    const next = [...chain, ev];
    yield { incident, chain: next };
    yield* eventScopes(incident, ev, next, depth + 1);
  }
}

function reporterOf(incident: Xml, message: ParsedMessage): string {
  const contacts = list(incident, 'Contact');
  const creator = contacts.find((c) => /creator|irt/.test(attr(c, 'role'))) ?? contacts[0];
  const name = text(list(creator, 'ContactName')[0]);
  const emailNode = list(creator, 'Email')[0];
  const email = text(emailNode) || text(list(emailNode, 'EmailTo')[0]);
  const who = [name, email && `<${email}>`].filter(Boolean).join(' ');
  return who || message.from?.replace(/"/g, '').trim() || 'unknown IODEF reporter';
}

function complaintsOf(block: string, message: ParsedMessage, hosts: string[]): ParsedComplaint[] {
  const doc = list(xml.parse(block) as Xml, 'IODEF-Document')[0];
  if (!doc) return [];
  const out: ParsedComplaint[] = [];
  for (const incident of list(doc, 'Incident')) {
    const id = list(incident, 'IncidentID')[0];
    const idText = id ? `${text(id)}${attr(id, 'name') ? ` (${attr(id, 'name')})` : ''}` : '';
    const reporter = reporterOf(incident, message);
    const reportTime = parseReportDate(text(list(incident, 'ReportTime')[0]));
    for (const scope of eventScopes(incident, incident, [], 0)) {
      const here = scope.chain[scope.chain.length - 1]!;
      const nearest = [...scope.chain].reverse();
      const impacts = nearest.map(impactsOf).find((i) => i.length > 0) ?? impactsOf(incident);
      const category = iodefCategory(impacts, [...nearest, incident].map(wordsOf).join('\n'));
      const stated = firstTime(...nearest, incident);
      const systems = list(here, 'Flow').flatMap((f) => list(f, 'System')).filter((s) => attr(s, 'category') === 'source');
      for (const ip of systems.flatMap((s) => sourceAddresses(s, hosts))) {
        out.push({
          ip,
          category,
          eventTime: stated ?? reportTime,
          // ReportTime says when the CSIRT wrote, not when the abuse happened.
          eventTimeSource: stated ? 'report' : reportTime ? 'receipt' : undefined,
          reporter,
          reporterKind: 'cert',
          format: 'iodef',
          evidence: [`IODEF ${attr(doc, 'version') || ''} incident ${idText}`.replace(/\s+/g, ' ').trim(), text(list(incident, 'Description')[0]).slice(0, 160)].filter(Boolean).join(': '),
        });
        checkLimit(message.limits ?? DEFAULT_INTAKE_LIMITS, 'rows', out.length, 'IODEF source addresses');
      }
    }
  }
  return out;
}

/** Every `<IODEF-Document …>…</IODEF-Document>` in `text` (namespace prefixes allowed). */
function documentBlocks(source: string): string[] {
  const out: string[] = [];
  const open = /<(?:[A-Za-z_][\w.-]*:)?IODEF-Document[\s>]/g;
  for (let m = open.exec(source); m !== null; m = open.exec(source)) {
    const close = /<\/(?:[A-Za-z_][\w.-]*:)?IODEF-Document\s*>/g;
    close.lastIndex = m.index;
    const end = close.exec(source);
    if (!end) break;
    out.push(source.slice(m.index, end.index + end[0].length));
    open.lastIndex = end.index + end[0].length;
  }
  return out;
}

function sources(message: ParsedMessage): string[] {
  const texts = message.parts.filter((p) => /xml|^text\//.test(p.contentType) || /\.xml$/i.test(p.filename ?? '')).map((p) => p.content.toString('utf8'));
  return [...texts, message.text].filter((t) => /<(?:[\w.-]+:)?IODEF-Document[\s>]/.test(t));
}

function parseIodef(message: ParsedMessage): ParsedComplaint[] | undefined {
  const found = sources(message);
  if (found.length === 0) return undefined;
  if (found.some((t) => /<!ENTITY|<!DOCTYPE[^>[]*\[/i.test(t))) {
    return declineWith('IODEF document with a DTD internal subset or entity declarations: refused unread (entities are never expanded)');
  }
  const hosts: string[] = [];
  const seen = new Set<string>();
  const out: ParsedComplaint[] = [];
  for (const block of found.flatMap(documentBlocks)) {
    for (const c of complaintsOf(block, message, hosts)) {
      const key = `${c.ip}|${c.category}|${c.eventTime?.getTime() ?? ''}|${c.evidence}`;
      if (!seen.has(key)) out.push(c);
      seen.add(key);
    }
  }
  if (out.length === 0 && hosts.length > 0) {
    return declineWith(`IODEF source names only ${[...new Set(hosts)].slice(0, 3).join(', ')} and no address: not resolved (the name may have moved or be shared)`);
  }
  return out;
}

/** See the file comment. Undefined when the message holds no IODEF document; never throws but IntakeLimitError. */
export const iodefParser: FormatParser = {
  name: 'iodef',
  parse(message) {
    try {
      return parseIodef(message);
    } catch (err) {
      if (isIntakeLimitError(err)) throw err;
      return [];
    }
  },
};
