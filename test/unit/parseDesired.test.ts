import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { desiredToJson, parseDesired, parseDesiredText } from '../../agent/enforce/parseDesired.js';
import { DesiredState } from '../../proto/gen/cordon/v1/agent.js';
import { REPO_ROOT } from '../helpers/paths.js';

const ok = (enforcements: unknown[]) => ({ generation: '3', enforcements });
const base = { id: 'e1', incidentId: 'inc-1', reason: 'r' };

function errorOf(raw: unknown): { field: string | undefined; message: string } {
  try {
    parseDesired(raw);
  } catch (err) {
    return err as { field: string; message: string };
  }
  throw new Error('expected an error');
}

describe('parseDesired', () => {
  it('reads every kind, in camelCase and snake_case', () => {
    const d = parseDesired({
      generation: 7,
      issued_at: '2026-11-23T10:00:00Z',
      enforcements: [
        { ...base, smtp_block: { ports: [587, 25, 25], allowed_relays: ['198.51.100.25'] } },
        { ...base, id: 'e2', throttle: { rate_bps: '10000000' } },
        { ...base, id: 'e3', isolate: {} },
        { ...base, id: 'e4', nicDown: {} },
      ],
    });
    expect(d.generation).toBe(7n);
    expect(d.enforcements.map((e) => e.action.kind)).toEqual(['smtp_block', 'throttle', 'isolate', 'nic_down']);
    expect(d.enforcements[0]!.action).toMatchObject({ ports: [25, 587] });
    expect(d.enforcements[1]!.action).toEqual({ kind: 'throttle', rateBps: 10_000_000 });
  });

  it.each([
    ['a negative rate', ok([{ ...base, throttle: { rateBps: -5 } }]), 'enforcements[0].throttle.rateBps', /positive integer/],
    ['a zero rate', ok([{ ...base, throttle: { rateBps: '0' } }]), 'enforcements[0].throttle.rateBps', /between 8000 and/],
    ['a rate too low to pass a packet', ok([{ ...base, throttle: { rateBps: 1000 } }]), 'enforcements[0].throttle.rateBps', /between 8000 and/],
    ['an unknown kind', ok([{ ...base, blackhole: {} }]), 'enforcements[0].blackhole', /unknown field/],
    ['two actions', ok([{ ...base, isolate: {}, nicDown: {} }]), 'enforcements[0]', /exactly one action.*isolate and nicDown/],
    ['no action', ok([{ ...base }]), 'enforcements[0]', /found none/],
    ['a missing reason', ok([{ id: 'e', incidentId: 'i', isolate: {} }]), 'enforcements[0].reason', /non-empty/],
    ['a missing incident', ok([{ id: 'e', reason: 'r', isolate: {} }]), 'enforcements[0].incidentId', /non-empty/],
    ['a bad port', ok([{ ...base, smtpBlock: { ports: [70000] } }]), 'enforcements[0].smtpBlock.ports[0]', /1-65535/],
    ['a bad relay', ok([{ ...base, smtpBlock: { allowedRelays: ['mail.example'] } }]), 'enforcements[0].smtpBlock.allowedRelays[0]', /not an IP/],
    ['a duplicate id', ok([{ ...base, isolate: {} }, { ...base, nicDown: {} }]), 'enforcements[1].id', /duplicate/],
    ['generation zero', { generation: 0, enforcements: [] }, 'generation', /at least 1/],
    ['a missing generation', { enforcements: [] }, 'generation', /positive integer/],
    ['an unknown top-level field', { generation: 1, enforcements: [], force: true }, 'force', /unknown field/],
  ])('refuses %s, naming the field', (_what, raw, field, message) => {
    const err = errorOf(raw);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('refuses broken JSON', () => {
    expect(() => parseDesiredText('{"generation": ', 'x.json')).toThrow(/x.json is not valid JSON/);
  });

  it('reads what the controller sends over gRPC (proto3 JSON of the message)', () => {
    const msg = DesiredState.fromPartial({
      generation: 4n,
      enforcements: [{ id: 'e', incidentId: 'i', reason: 'r', action: { $case: 'throttle', value: { rateBps: 5_000_000n } } }],
    });
    expect(parseDesired(DesiredState.toJSON(msg)).enforcements[0]!.action).toEqual({ kind: 'throttle', rateBps: 5_000_000 });
    const empty = DesiredState.fromPartial({ generation: 5n, enforcements: [{ id: 'e', incidentId: 'i', reason: 'r' }] });
    expect(() => parseDesired(DesiredState.toJSON(empty))).toThrow(/found none/);
  });

  it('round-trips through the saved form', () => {
    const d = parseDesired(ok([{ ...base, smtpBlock: { allowedRelays: ['2001:db8::/64'] } }]));
    expect(parseDesired(desiredToJson(d))).toEqual(d);
  });

  it('accepts every example under deploy/examples', () => {
    const dir = join(REPO_ROOT, 'deploy/examples');
    const states = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'agent.json');
    expect(states.sort()).toEqual(['isolate.json', 'nic-down.json', 'none.json', 'smtp-block.json', 'throttle-10mbit.json']);
    for (const f of states) expect(() => parseDesiredText(readFileSync(join(dir, f), 'utf8'), f)).not.toThrow();
  });
});
