/**
 * Plain-text building blocks for customer mail. Cordon sends no HTML: what the
 * customer reads is exactly what is stored and tested.
 */

/** A moment in UTC, ISO 8601 to the second (`2026-03-02T12:00:00Z`). Always UTC: customers sit in every time zone. */
export function utc(d: Date): string {
  // Milliseconds are dropped, not rounded: a stated deadline is never later than the real one.
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * One paragraph, re-flowed to `width` columns. A `[Cordon #…]` tag counts as
 * one word so a reader (or a quoting mail client) never sees it split.
 */
export function paragraph(text: string, width = 72): string {
  const words = text.match(/\[Cordon #[^\]]*\]\S*|\S+/g) ?? [];
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** An indented list; a long item wraps with a hanging indent. */
export function bullets(items: readonly string[], width = 72): string {
  return items.map((item) => `  - ${paragraph(item, width - 4).replace(/\n/g, '\n    ')}`).join('\n');
}

/** Joins blocks with a blank line, skipping absent ones. */
export function blocks(...parts: (string | undefined | false)[]): string {
  return `${parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join('\n\n')}\n`;
}

/** Removes line breaks and other control characters from a value placed in a header. */
export function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
