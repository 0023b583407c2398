import type { ParsedMessage } from '../types.js';

/**
 * Finds ACNS `<Infringement>` documents in a message: XML attachments, a bare
 * XML file, and XML pasted inline in the text body. Rights holders usually
 * send the inline copy inside a PGP clearsigned text, where every line that
 * starts with "-" was dash-escaped to "- -"; that escaping is undone before
 * the XML is read (RFC 4880 §7.1).
 */

const BEGIN_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';

/**
 * `text` with the dash-escaping of its PGP clearsigned blocks undone
 * (RFC 4880 §7.1: a leading "- " is removed from each signed line); text
 * outside such blocks is left as is.
 */
export function undoDashEscaping(text: string): string {
  const lines = text.split(/\r?\n/);
  let state: 'outside' | 'armor' | 'signed' = 'outside';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(BEGIN_SIGNED)) state = 'armor';
    else if (state === 'armor' && line.trim() === '') state = 'signed'; // armor headers (Hash: …) end at the first empty line
    else if (line.startsWith('-----BEGIN PGP SIGNATURE-----')) state = 'outside';
    else if (state === 'signed' && line.startsWith('- ')) lines[i] = line.slice(2);
  }
  return lines.join('\n');
}

/** Every `<Infringement …>…</Infringement>` element in `text` (namespace prefixes allowed). */
export function infringementBlocks(text: string): string[] {
  const out: string[] = [];
  const open = /<(?:[A-Za-z_][\w.-]*:)?Infringement[\s>]/g;
  let m: RegExpExecArray | null;
  while ((m = open.exec(text)) !== null) {
    const close = /<\/(?:[A-Za-z_][\w.-]*:)?Infringement\s*>/g;
    close.lastIndex = m.index;
    const end = close.exec(text);
    if (!end) break;
    out.push(text.slice(m.index, end.index + end[0].length));
    open.lastIndex = end.index + end[0].length;
  }
  return out;
}

/**
 * The ACNS documents of a message, attachments first: an attachment is the
 * machine-readable copy, untouched by signing or text wrapping.
 */
export function acnsDocuments(message: ParsedMessage): string[] {
  const docs: string[] = [];
  for (const part of message.parts) {
    const xmlish = /xml/.test(part.contentType) || /\.xml$/i.test(part.filename ?? '') || part.contentType.startsWith('text/');
    if (xmlish) docs.push(...infringementBlocks(part.content.toString('utf8')));
  }
  docs.push(...infringementBlocks(undoDashEscaping(message.text)));
  return docs;
}
