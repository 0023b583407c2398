/**
 * Reads ipmitool's `Name : value` report lines (mc info, sol info, chassis
 * status) into a record. Indented continuation lines (lists under a heading)
 * are skipped: Cordon only needs the one-line fields. Names keep ipmitool's
 * spelling, so an operator can match them to the tool's own output.
 */
export function parseIpmitoolFields(stdout: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S[^:]*?)\s*:\s?(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) fields[m[1]] = m[2].trim();
  }
  return fields;
}
