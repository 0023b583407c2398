import { describe, expect, it } from 'vitest';
import { formatPrettyLine } from '../../proto/runtime/prettyLog.js';

describe('formatPrettyLine (--log-pretty)', () => {
  it('shows time, level, name/component, message and the other fields', () => {
    const line = JSON.stringify({ level: 40, time: '2026-11-02T09:00:01.234Z', pid: 7, name: 'cordon-controller', component: 'incidents', msg: 'escalated', incident: 'i-1', detail: 'two words' });
    expect(formatPrettyLine(line, false)).toBe('09:00:01.234 WARN  cordon-controller/incidents: escalated incident=i-1 detail="two words"\n');
  });

  it('colours only when asked, and passes a non-JSON line through unchanged', () => {
    const line = JSON.stringify({ level: 50, time: '2026-11-02T09:00:01.234Z', name: 'cordon-agent', msg: 'failed' });
    expect(formatPrettyLine(line, true)).toContain('\x1b[31mERROR\x1b[0m');
    expect(formatPrettyLine('not json', false)).toBe('not json\n');
    expect(formatPrettyLine('42', false)).toBe('42\n');
  });
});

describe('--log-pretty on the daemons', () => {
  it('is a common daemon flag, off by default', async () => {
    const { parseDaemonArgs } = await import('../../proto/runtime/daemonArgs.js');
    expect(parseDaemonArgs(['--log-pretty', '--config', 'x.json'], { envVar: 'X', env: {} })).toMatchObject({ logPretty: true, configFile: 'x.json' });
    expect(parseDaemonArgs([], { envVar: 'X', env: {} }).logPretty).toBe(false);
  });
});
