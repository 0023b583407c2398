import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A message the lab's mail receiver stored. */
export interface LabMail {
  file: string;
  /** The whole stored message. */
  path: string;
  to: string;
  subject: string;
  template: string;
  incident: string;
}

function header(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  // Unfold continuation lines (RFC 5322 2.2.3) before matching.
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(unfolded)?.[1]?.trim() ?? '';
}

/** Every message delivered so far, in arrival order. */
export function readLabMail(dir: string): LabMail[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((file) => {
      const raw = readFileSync(join(dir, file), 'utf8');
      return {
        file,
        path: join(dir, file),
        to: header(raw, 'X-Lab-Envelope-To'),
        subject: header(raw, 'Subject'),
        template: header(raw, 'X-Cordon-Template'),
        incident: header(raw, 'X-Cordon-Incident'),
      };
    });
}
