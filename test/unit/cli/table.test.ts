import { describe, expect, it } from 'vitest';
import { routeCommand } from '../../../controller/cli/routeCommand.js';
import { age, dueIn, oneLine, printable } from '../../../controller/cli/table.js';

const NOW = new Date('2026-11-05T12:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

describe('cordonctl time and text for people', () => {
  it('reads ages and due times in their largest sensible unit, days included', () => {
    expect([age(at(-45), NOW), age(at(-600), NOW), age(at(-5 * 3600), NOW), age(at(-3 * 86_400), NOW)]).toEqual(['45s ago', '10m ago', '5h ago', '3d ago']);
    // A time ahead of now (a clock skew) is not a negative age.
    expect(age(at(30), NOW)).toBe('0s ago');
    expect([dueIn(at(5 * 3600), NOW), dueIn(at(-2 * 86_400), NOW), dueIn(undefined, NOW)]).toEqual(['in 5h', 'overdue 2d', '-']);
  });

  it('shows control characters and bidi overrides as ?, and keeps a field on its line', () => {
    expect(printable('a\u001b[2Jb\u202ec\td\ne\u0007')).toBe('a?[2Jb?c\td\ne?');
    expect(oneLine('first\r\nsecond\rthird\nfourth\u001b')).toBe('first ⏎ second ⏎ third ⏎ fourth?');
  });

  it('routes each command to the one module that runs it', () => {
    const cases: [string[], string][] = [
      [['agents'], 'fleet'],
      [['host', 'list'], 'fleet'],
      [['host', 'show', 'web-01'], 'incident'],
      [['host', 'set-bmc', 'web-01'], 'host'],
      [['customer', 'show', 'acme'], 'host'],
      [['incident', 'queue'], 'customerVoice'],
      [['incident', 'show', 'inc-1'], 'incident'],
      [['complaints'], 'dueProcess'],
      [['approvals'], 'incident'],
      [['approvals', 'reject', 'apr-1'], 'dueProcess'],
      [['reporter', 'list'], 'reporter'],
      [['clock', 'advance', '1d'], 'clock'],
      [['ingest', '-'], 'ingest'],
      [['frobnicate'], 'incident'],
    ];
    for (const [words, group] of cases) expect(routeCommand(words), words.join(' ')).toBe(group);
  });
});
