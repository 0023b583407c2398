import { XMLParser } from 'fast-xml-parser';
import { parseIp } from '../../../proto/runtime/cidr.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { acnsDocuments } from './acnsExtract.js';

/**
 * ACNS 1.2 copyright notices (Automated Copyright Notice System, schema
 * http://www.acns.net/v1.2/ACNS2v1_2.xsd): `<Infringement>` with `<Case>`,
 * `<Complainant>`, `<Service_Provider>`, `<Source>` (the infringer: TimeStamp,
 * IP_Address, Port, Type, SubType) and `<Content><Item>` (Title, FileName, Hash).
 *
 * Only Source/IP_Address is the offender: the notice sender's MX in Received
 * headers and any address in the prose or Notes are not.
 */

/** An XML element as fast-xml-parser returns it with attributes kept: text, nested elements or `@_` attributes. */
type XmlValue = string | XmlNode | XmlValue[];
interface XmlNode {
  [name: string]: XmlValue | undefined;
}

// Tag values stay strings (parseTagValue: false): a case id or port must not become a number, nor an IP a float.
const xml = new XMLParser({ removeNSPrefix: true, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true });

function node(value: XmlValue | undefined): XmlNode | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first !== undefined && typeof first === 'object' && !Array.isArray(first) ? first : undefined;
}

function text(value: XmlValue | undefined): string {
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'string') return first.trim();
  const inner = node(first)?.['#text'];
  return typeof inner === 'string' ? inner.trim() : '';
}

function validIp(ip: string): string | undefined {
  try {
    parseIp(ip);
    return ip;
  } catch {
    return undefined;
  }
}

/** The complaint of one `<Infringement>` document; undefined when it is not ACNS, null when it names no readable offender. */
function complaintOf(doc: string, message: ParsedMessage): ParsedComplaint | null | undefined {
  const root = node((xml.parse(doc) as XmlNode)['Infringement']);
  if (!root) return undefined;
  const source = node(root['Source']);
  if (!source) return undefined; // Source is required by the schema: without it this is not an ACNS notice
  const ip = validIp(text(source['IP_Address']));
  if (!ip) return null;
  const complainant = node(root['Complainant']);
  const entity = text(complainant?.['Entity']);
  const email = text(complainant?.['Email']);
  const reporter = entity || email ? [entity, email && `<${email}>`].filter(Boolean).join(' ') : (message.from ?? 'unknown rights holder');
  const item = node(node(root['Content'])?.['Item']);
  const subType = node(source['SubType']);
  const protocol = text(subType?.['@_Protocol']) || text(source['Type']);
  const port = text(source['Port']);
  const caseId = text(node(root['Case'])?.['ID']);
  const title = text(item?.['Title']);
  return {
    ip,
    category: 'copyright',
    // Source/TimeStamp is when the infringer was seen; the item's own TimeStamp is the fallback the schema allows.
    eventTime: parseReportDate(text(source['TimeStamp'])) ?? parseReportDate(text(item?.['TimeStamp'])),
    reporter,
    reporterKind: 'rights_holder',
    format: 'acns',
    evidence: [caseId && `ACNS case ${caseId}`, title && `"${title}"`, [protocol, port && `port ${port}`].filter(Boolean).join(' ')].filter(Boolean).join(', '),
  };
}

/**
 * ACNS 1.2 notices, inline (PGP-signed or not), attached, or a bare XML file.
 * Undefined when the message holds no ACNS `<Infringement>`; [] when it does
 * but no Source/IP_Address is readable. One complaint per distinct notice
 * (the inline copy and the attachment are the same notice). Never throws.
 */
export const acnsParser: FormatParser = {
  name: 'acns',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    let docs: string[];
    try {
      docs = acnsDocuments(message);
    } catch {
      return undefined;
    }
    let recognised = false;
    const byKey = new Map<string, ParsedComplaint>();
    for (const doc of docs) {
      try {
        const c = complaintOf(doc, message);
        if (c === undefined) continue;
        recognised = true;
        if (c === null) continue;
        const key = `${c.ip}|${c.eventTime?.getTime() ?? ''}|${c.evidence}`;
        if (!byKey.has(key)) byKey.set(key, c);
      } catch {
        // Malformed XML in one copy: the other copy (attachment or inline) may still read.
      }
    }
    return recognised ? [...byKey.values()] : undefined;
  },
};
