import { describe, expect, it } from 'vitest';
import { observedWords } from '../../../controller/web/desk/enforcementSection.js';

describe('the incident page says what was seen, not what was decided', () => {
  const since = new Date('2026-12-07T10:00:00Z');
  it('marks what nobody confirmed, with since when, and escapes the reason', () => {
    expect(String(observedWords({ observed: 'unconfirmed', since, reason: 'agent disconnected since x (<script>)' }))).toBe(
      '<strong>Not confirmed</strong> since 2026-12-07T10:00:00.000Z: agent disconnected since x (&lt;script&gt;).',
    );
    expect(String(observedWords({ observed: 'switch_only', since, reason: 'switch port shut' }))).toMatch(/^<strong>Cut at the switch only<\/strong> since /);
    expect(String(observedWords({ observed: 'lifting', since: undefined, reason: 'lift not confirmed' }))).toBe('<strong>Lift not confirmed</strong>: lift not confirmed.');
    expect(String(observedWords({ observed: 'confirmed', since, reason: 'agent confirmed generation 3' }))).toBe('Confirmed since 2026-12-07T10:00:00.000Z: agent confirmed generation 3.');
  });
});
