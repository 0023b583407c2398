/**
 * Just enough MIME to check what the SMTP sink received, byte-exact: headers
 * (unfolded), multipart split, base64 / quoted-printable / identity bodies.
 * Works on latin1 strings so every byte maps to one character and back.
 */
export interface MimePart {
  /** Lower-case header names, values unfolded. The first of a repeated header wins. */
  headers: Map<string, string>;
  /** The body as sent, before transfer decoding. */
  body: Buffer;
}

export function parseMime(raw: Buffer): MimePart {
  const s = raw.toString('latin1');
  const end = s.indexOf('\r\n\r\n');
  const head = end < 0 ? s : s.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n([ \t])/g, '$1').split('\r\n')) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon).trim().toLowerCase();
    if (colon > 0 && !headers.has(key)) headers.set(key, Buffer.from(line.slice(colon + 1).trim(), 'latin1').toString('utf8'));
  }
  return { headers, body: Buffer.from(end < 0 ? '' : s.slice(end + 4), 'latin1') };
}

/** The parts of a multipart body. The CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the part. */
export function multipartParts(part: MimePart): MimePart[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(part.headers.get('content-type') ?? '')?.[1];
  if (!boundary) throw new Error('not multipart');
  const pieces = `\r\n${part.body.toString('latin1')}`.split(`\r\n--${boundary}`);
  return pieces
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => parseMime(Buffer.from(p.slice(p.indexOf('\r\n') + 2), 'latin1')));
}

/** The body with its Content-Transfer-Encoding undone. */
export function decodedBody(part: MimePart): Buffer {
  const cte = (part.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const s = part.body.toString('latin1');
  if (cte === 'base64') return Buffer.from(s.replace(/\s+/g, ''), 'base64');
  if (cte === 'quoted-printable') {
    const unsoft = s.replace(/=\r\n/g, '');
    return Buffer.from(unsoft.replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  return part.body;
}
