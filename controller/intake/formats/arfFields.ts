/**
 * Reads a block of "Name: value" fields in RFC 5322 header syntax — the
 * syntax RFC 5965 §3.1 prescribes for the message/feedback-report part, and
 * that of the attached original's headers (§2 (d)). Folded lines are
 * unfolded; reading stops at the first empty line (the end of a header
 * block). Names are lower-cased; a field may repeat (RFC 5965 §3.2:
 * Original-Rcpt-To, Reported-Uri), so each name maps to all its values in
 * order.
 */
export function readArfFields(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string[] | undefined; // values of the field a folded line continues
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (fields.size > 0) break;
      continue; // leading blank lines before the block
    }
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] = `${last[last.length - 1] ?? ''} ${line.trim()}`.trim();
      continue;
    }
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    if (!m) {
      last = undefined;
      continue;
    }
    const name = m[1]!.toLowerCase();
    const values = fields.get(name) ?? [];
    values.push(m[2]!.trim());
    fields.set(name, values);
    last = values;
  }
  return fields;
}

/** The first value of a field, or undefined. */
export function firstField(fields: Map<string, string[]>, name: string): string | undefined {
  const value = fields.get(name)?.[0];
  return value === undefined || value === '' ? undefined : value;
}
