import { describe, expect, it } from 'vitest';
import { parseMailPayload } from '../../../controller/mail/parseMailPayload.js';
import { sampleIncident, samplePayload } from './fixtures.js';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('parseMailPayload', () => {
  it('revives a payload that went through JSON into the one that was written', () => {
    const written = samplePayload({ bmcCheckedAt: new Date('2026-03-01T09:00:00Z'), actions: [{ kind: 'throttle', rateBps: 10_000_000 }] });
    const read = parseMailPayload(viaJson(written));
    expect(read).toEqual(written);
    expect(read.incident.ackDueAt).toBeInstanceOf(Date);
    expect(read.complaint?.receivedAt).toBeInstanceOf(Date);
  });

  it('takes null as absent, and real Dates as they are', () => {
    const row = viaJson(samplePayload({ incident: sampleIncident({ closedAt: undefined }) })) as Record<string, unknown>;
    (row.incident as Record<string, unknown>).closedAt = null;
    row.complaint = null;
    expect(parseMailPayload(row).complaint).toBeUndefined();
    expect(parseMailPayload(samplePayload()).incident.openedAt).toEqual(sampleIncident().openedAt);
  });

  it('refuses what rendering cannot use, naming the field', () => {
    type Row = { template: unknown; actions: unknown; customer: Record<string, unknown>; incident: Record<string, unknown>; host: Record<string, unknown> };
    const bad = (mutate: (p: Row) => void) => {
      const p = viaJson(samplePayload()) as Row;
      mutate(p);
      return () => parseMailPayload(p);
    };
    expect(bad((p) => (p.template = 'hello'))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'template' }));
    expect(bad((p) => delete p.customer.email)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'customer.email' }));
    expect(bad((p) => (p.incident.ackDueAt = 'soon'))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'incident.ackDueAt' }));
    expect(bad((p) => (p.actions = [{ kind: 'throttle' }]))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'actions.0.rateBps' }));
    expect(bad((p) => (p.host.publicPrefixes = 'x'))).toThrow(expect.objectContaining({ field: 'host.publicPrefixes' }));
    expect(() => parseMailPayload('{"template":"notice"}')).toThrow(expect.objectContaining({ kind: 'invalid', field: 'payload' }));
  });
});
