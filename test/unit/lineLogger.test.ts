import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Log } from '../../proto/runtime/Log.js';
import { createLineLogger } from '../../proto/runtime/lineLogger.js';

/** The controller's pino, configured as `createRootLogger` configures it, writing to an array. */
function pinoLines(level = 'trace'): { log: Log; lines: string[] } {
  const lines: string[] = [];
  const log = pino(
    { name: 'cordon-agent', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' } },
    { write: (s: string) => void lines.push(s) },
  );
  return { log, lines };
}

function lineLines(level = 'trace', pretty = false): { log: Log; lines: string[] } {
  const lines: string[] = [];
  return { log: createLineLogger({ name: 'cordon-agent', level, pretty, write: (s) => void lines.push(s) }), lines };
}

const withoutTime = (line: string) => {
  const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
  expect(typeof time).toBe('string');
  expect(new Date(time as string).toISOString()).toBe(time);
  return rest;
};

// Made once, so both loggers see the same stacks.
const cordonError = new CordonError('invalid', 'bad seq', { field: 'seq' });
const typeError = new TypeError('boom');
const bare = new Error('alone');

/** Every call shape the agent makes, run through both loggers. */
function calls(log: Log): void {
  log.info('plain message');
  log.warn({ generation: '7', interfaces: ['eth0'] }, 'with fields');
  const child = log.child({ component: 'guard' }).child({ stream: 2 });
  child.error({ err: cordonError }, 'a Cordon error');
  child.info({ err: typeError }, 'a plain error');
  log.error(bare);
  log.info({ password: 'p', tls: { secret: 's', cert: 'c' }, note: 'kept' }, 'redacted');
  log.debug({ n: 1 });
  log.trace('quiet');
}

describe('the agent line logger', () => {
  it("writes what the controller's pino writes for every call shape, field for field", () => {
    const a = pinoLines();
    const b = lineLines();
    calls(a.log);
    calls(b.log);
    expect(b.lines).toHaveLength(8);
    expect(b.lines.map(withoutTime)).toEqual(a.lines.map(withoutTime));
    for (const line of b.lines) expect(line.endsWith('}\n')).toBe(true);
    expect(b.lines[5]).not.toContain('"p"');
  });

  it('drops the levels below its own, and writes nothing when silent', () => {
    const warn = lineLines('warn');
    calls(warn.log);
    expect(warn.lines.map((l) => (JSON.parse(l) as { level: number }).level)).toEqual([40, 50, 50]);
    const silent = lineLines('silent');
    calls(silent.log);
    expect(silent.lines).toEqual([]);
  });

  it('never throws on what JSON cannot hold: a bigint becomes text, a cycle is named', () => {
    const { log, lines } = lineLines();
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    log.info({ generation: 12345678901234567890n, cycle }, 'odd fields');
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec.generation).toBe('12345678901234567890');
    expect(String(rec.cycle)).toMatch(/^\[unserializable: .*circular/i);
    expect(rec.msg).toBe('odd fields');
  });

  it('refuses an unknown level by its field', () => {
    for (const level of ['loud', 'toString', '__proto__', 'constructor']) {
      expect(() => createLineLogger({ name: 'x', level })).toThrow(expect.objectContaining({ kind: 'invalid', field: 'log.level' }));
    }
  });

  it('renders lines for a person with --log-pretty', () => {
    const { log, lines } = lineLines('info', true);
    log.child({ component: 'guard' }).warn({ address: '198.51.100.7' }, 'banned');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  cordon-agent\/guard: banned address=198\.51\.100\.7\n$/);
  });
});
