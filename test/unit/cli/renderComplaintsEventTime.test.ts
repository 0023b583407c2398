import { describe, expect, it } from 'vitest';
import { renderComplaints } from '../../../controller/cli/renderComplaints.js';
import { toComplaintRecord } from '../../../controller/desk/incidentDesk.js';
import type { StoredComplaint } from '../../../controller/store/ComplaintsRepo.js';
import { ComplaintRecord } from '../../../proto/gen/cordon/v1/desk.js';

/** `cordonctl incident show` and its --json: a receipt time is marked, never printed as the event's. */
const NOW = new Date('2026-11-02T12:00:00Z');
const stored = (over: Partial<StoredComplaint>): StoredComplaint => ({
  id: 'c-1',
  receivedAt: new Date('2026-11-02T09:00:00Z'),
  eventTime: new Date('2026-11-02T08:10:00Z'),
  ip: '203.0.113.2',
  category: 'spam',
  reporter: 'FBL <fbl@mailbox.example>',
  reporterKind: 'upstream',
  raw: 'raw',
  evidence: 'arf: spam',
  status: 'linked',
  incidentId: 'inc-1',
  reason: undefined,
  duplicateOf: undefined,
  ...over,
});
const show = (c: StoredComplaint) => renderComplaints([toComplaintRecord(c)], { now: NOW, mark: '', inline: '' });

describe('a complaint\'s event time on the command line', () => {
  it('prints a stated time as the event\'s', () => {
    expect(show(stored({ eventTimeSource: 'report' }))).toContain('; event at 2026-11-02T08:10:00.000Z\n');
  });

  it('prints a receipt time as the report\'s date, marked, and --json carries the mark', () => {
    const c = stored({ eventTimeSource: 'receipt' });
    const text = show(c);
    expect(text).toContain('; dated 2026-11-02T08:10:00.000Z (receipt time: the report states no event time)\n');
    expect(text).not.toContain('event at');
    expect(ComplaintRecord.toJSON(toComplaintRecord(c))).toMatchObject({ eventTime: '2026-11-02T08:10:00.000Z', eventTimeSource: 'receipt' });
  });

  it('prints no time for a report that gives none, whatever the mark', () => {
    expect(show(stored({ eventTime: undefined, eventTimeSource: 'receipt' }))).not.toMatch(/event at|dated|receipt time/);
  });
});
