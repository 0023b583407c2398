import type { ClockReading } from '../../proto/gen/cordon/v1/desk.js';
import type { DeskClient } from './deskClient.js';

/** How far the incident clock may run from this machine's before output says so. */
const DRIFT_MS = 60_000;

export interface DeskNow {
  /** The incident clock's now: what ages and due times are measured from. */
  now: Date;
  /** " (drill clock)" when that now is more than a minute from this machine's clock; else "". For headers. */
  mark: string;
  /** ", drill clock" or "": for inside a parenthesis, "(3d ago, drill clock)". */
  inline: string;
}

/**
 * The controller's incident clock, read once per command. Incidents,
 * complaints and deadlines are stamped on that clock; measured against
 * cordonctl's own wall clock a drill's days-old incident would read "0s ago".
 */
export async function readDeskNow(client: DeskClient, wall: Date = new Date()): Promise<DeskNow> {
  const r = await client.call<unknown, ClockReading>('getClock', {});
  const now = r.now ?? wall;
  const drill = Math.abs(now.getTime() - wall.getTime()) > DRIFT_MS;
  return { now, mark: drill ? ' (drill clock)' : '', inline: drill ? ', drill clock' : '' };
}
