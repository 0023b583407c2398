import { describe, expect, it } from 'vitest';
import { isLinkListing, sameTurnReads } from '../../agent/backends/sameTurnReads.js';
import { RecordingRunner } from '../../proto/runtime/CommandRunner.js';

const line = (c: { command: string; args: string[] }) => [c.command, ...c.args].join(' ');

describe('sameTurnReads', () => {
  it('joins the same read asked in one turn, and runs it afresh in the next', async () => {
    let n = 0;
    const r = new RecordingRunner(() => ({ stdout: String(++n) }));
    const reads = sameTurnReads(r, isLinkListing);
    const [a, b] = await Promise.all([reads.run('ip', ['-j', 'link', 'show']), reads.run('ip', ['-j', 'link', 'show'])]);
    expect([a.stdout, b.stdout]).toEqual(['1', '1']);
    const later = await reads.run('ip', ['-j', 'link', 'show']);
    expect(later.stdout).toBe('2');
    expect(r.calls.map(line)).toEqual(['ip -j link show', 'ip -j link show']);
  });

  it('never joins a write, a command with input, or a read it was not told is read-only', async () => {
    const r = new RecordingRunner();
    const reads = sameTurnReads(r, isLinkListing);
    await Promise.all([
      reads.run('ip', ['link', 'set', 'dev', 'pub0', 'down']),
      reads.run('ip', ['link', 'set', 'dev', 'pub0', 'down']),
      reads.run('ip', ['-batch', '-'], { input: 'link show\n' }),
      reads.run('ip', ['-batch', '-'], { input: 'link show\n' }),
      reads.run('tc', ['-j', 'qdisc', 'show', 'dev', 'pub0']),
      reads.run('tc', ['-j', 'qdisc', 'show', 'dev', 'pub0']),
    ]);
    expect(r.calls).toHaveLength(6);
  });

  it('shares a failed read with everyone who joined it', async () => {
    const r = new RecordingRunner(() => ({ code: 1, stderr: 'gone' }));
    const reads = sameTurnReads(r, isLinkListing);
    const both = await Promise.all([reads.run('ip', ['-j', 'link', 'show']), reads.run('ip', ['-j', 'link', 'show'])]);
    expect(both.map((x) => x.code)).toEqual([1, 1]);
    expect(r.calls).toHaveLength(1);
  });
});
