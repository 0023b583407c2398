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

  it("never lets a logged text's control characters reach the terminal: escape sequences in the message, a field or a stray line are shown escaped", () => {
    // An OSC that retitles the terminal and a CSI that recolours it, 7-bit and 8-bit, as a hostile report's subject might carry.
    const line = JSON.stringify({ level: 30, time: '2026-11-02T09:00:01.234Z', name: 'cordon-controller', msg: 'subject \x1b[31mred', host: 'web\x1b]0;pwned\x07', raw: { s: '\u009b2J' } });
    const out = formatPrettyLine(line, false);
    expect(out).toBe('09:00:01.234 INFO  cordon-controller: subject \\u001b[31mred host="web\\u001b]0;pwned\\u0007" raw={"s":"\\u009b2J"}\n');
    expect(out.slice(0, -1)).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/);
    expect(formatPrettyLine('stray \x1b[2J line', false)).toBe('stray \\u001b[2J line\n');
    expect(formatPrettyLine('two\nlines', false)).toBe('two\\u000alines\n');
  });
});

describe('--log-pretty on the daemons', () => {
  it('is a common daemon flag, off by default', async () => {
    const { parseDaemonArgs } = await import('../../proto/runtime/daemonArgs.js');
    expect(parseDaemonArgs(['--log-pretty', '--config', 'x.json'], { envVar: 'X', env: {} })).toMatchObject({ logPretty: true, configFile: 'x.json' });
    expect(parseDaemonArgs([], { envVar: 'X', env: {} }).logPretty).toBe(false);
  });
});
