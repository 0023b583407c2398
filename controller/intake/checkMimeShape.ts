import { IntakeLimitError, type IntakeLimits } from './limits.js';

interface PartHeaders {
  /** Where the part's body starts (after the empty line), or the end of the message. */
  body: number;
  boundary: string | undefined;
  /** A message/rfc822 part in an encoding that leaves the embedded message readable as it is. */
  embedded: boolean;
}

/** Reads the header block starting at `at`: the content type's boundary, and whether the body is an embedded message. */
function readHeaders(text: string, at: number): PartHeaders {
  let contentType = '';
  let encoding = '';
  let current: 'type' | 'encoding' | undefined;
  let pos = at;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(pos, end).replace(/\r$/, '');
    pos = end + 1;
    if (line === '') break;
    if (/^[ \t]/.test(line)) {
      if (current === 'type') contentType += ` ${line.trim()}`;
      else if (current === 'encoding') encoding += line.trim();
      continue;
    }
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    const name = m?.[1]!.toLowerCase();
    current = name === 'content-type' ? 'type' : name === 'content-transfer-encoding' ? 'encoding' : undefined;
    if (current === 'type') contentType = m![2]!;
    else if (current === 'encoding') encoding = m![2]!.trim();
  }
  const type = contentType.trim().toLowerCase();
  const boundary = /^multipart\//.test(type) ? /boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(contentType) : null;
  return {
    body: Math.min(pos, text.length),
    boundary: boundary ? `--${boundary[1] ?? boundary[2]}` : undefined,
    embedded: /^message\/(rfc822|global)\b/.test(type) && /^(|7bit|8bit|binary)$/i.test(encoding),
  };
}

/**
 * Counts the MIME parts of a raw message and how deeply they nest — the tree
 * mailparser would build, embedded message/rfc822 messages included — without
 * decoding anything, and throws IntakeLimitError as soon as the count passes
 * intake.limits.mimeParts or the depth intake.limits.mimeDepth. One pass over
 * the lines; run before the message is handed to mailparser, so a message
 * of 100,000 parts or nested 10,000 deep is refused before it is built.
 */
export function checkMimeShape(raw: Buffer, limits: IntakeLimits): void {
  const text = raw.toString('latin1');
  // Open multiparts, innermost last: the delimiter line of each and the depth of the parts it holds.
  const open: { delimiter: string; depth: number }[] = [];
  let parts = 0;
  const enter = (at: number, depth: number): number => {
    for (;;) {
      parts++;
      if (parts > limits.mimeParts) throw new IntakeLimitError('mimeParts', parts, limits.mimeParts, 'the message', true);
      if (depth > limits.mimeDepth) throw new IntakeLimitError('mimeDepth', depth, limits.mimeDepth, `the message, part ${parts}`, true);
      const h = readHeaders(text, at);
      if (h.boundary) open.push({ delimiter: h.boundary, depth: depth + 1 });
      if (!h.embedded) return h.body;
      // The body of a message/rfc822 part is a message: its header block comes next, one level down.
      at = h.body;
      depth++;
    }
  };
  let pos = enter(0, 1);
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    let next = end + 1;
    if (open.length > 0 && text.startsWith('--', pos)) {
      const line = text.slice(pos, end).replace(/[ \t\r]+$/, '');
      // A delimiter may also end inner multiparts that never closed: match from the innermost out.
      for (let i = open.length - 1; i >= 0; i--) {
        const { delimiter, depth } = open[i]!;
        if (line === delimiter) {
          open.length = i + 1;
          next = enter(end + 1, depth);
          break;
        }
        if (line === `${delimiter}--`) {
          open.length = i;
          break;
        }
      }
    }
    pos = next;
  }
}
