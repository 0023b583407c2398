import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { ENFORCE_CHUNK, IncidentService } from '../../../controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { parseMailPayload } from '../../../controller/mail/parseMailPayload.js';
import { renderMail } from '../../../controller/mail/renderMail.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { fileStore, host, T0 } from './storeFixtures.js';

/**
 * An approved mass action: every host gets its own incident and the action,
 * chunk by chunk, each chunk's hosts announced for pushing once it commits;
 * the notice of an incident an operator opened renders with their reason.
 */
describe('IncidentService.enforceHosts', () => {
  it('enforces on every host across chunks, pushes each chunk after its commit, and mails a notice that renders', async () => {
    const store = await fileStore();
    try {
      const n = ENFORCE_CHUNK + 7;
      await store.hosts.upsertMany(Array.from({ length: n }, (_, k) => host(`h${k}`, [`10.9.${k}.0/24`], `cust-${k % 5}`)));
      const pushed: string[] = [];
      const service = new IncidentService({
        store,
        policy: DEFAULT_POLICY,
        clock: new ManualClock(T0),
        log: silentLogger(),
        onHostChanged: (h) => pushed.push(h),
        onOutbox() {},
        onDeadlinesChanged() {},
      });
      const ids = await service.enforceHosts(Array.from({ length: n }, (_, k) => `h${k}`), { kind: 'smtp_block' }, 'spam wave seen by our own monitoring', 'olga');
      expect(new Set(ids).size).toBe(n);
      expect(pushed).toHaveLength(n);
      for (const [k, id] of ids.entries()) {
        const i = (await store.incidents.get(id))!;
        expect(i).toMatchObject({ hostId: `h${k}`, state: 'enforcing', actions: [{ kind: 'smtp_block' }] });
        expect((await store.desired.get(`h${k}`)).generation).toBe(1);
      }
      const notice = (await store.outbox.list()).find((m) => m.incidentId === ids[0] && (m.payload as { template: string }).template === 'notice')!;
      const mail = renderMail({ ...parseMailPayload(notice.payload), desk: { from: 'abuse@p.example', replyTo: 'abuse@p.example', name: 'Abuse desk' } });
      expect(mail.text.replace(/\s+/g, ' ')).toContain('The reason given: spam wave seen by our own monitoring');
      expect((await store.audit.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses an unknown host by name, keeping the chunks before it', async () => {
    const store = await fileStore();
    try {
      await store.hosts.upsertMany([host('h0', ['10.9.0.0/24'])]);
      const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: new ManualClock(T0), log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
      await expect(service.enforceHosts(['h0', 'nope'], { kind: 'isolate' }, 'r', 'olga')).rejects.toMatchObject({ kind: 'not_found', field: 'hostId' });
      // One chunk: nothing of it stays.
      expect(await store.incidents.list({ hostId: 'h0' })).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
