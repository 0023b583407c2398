import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import type { HostDetail } from '../../proto/gen/cordon/v1/desk.js';
import { csrfOf, DeskWebLab, type DeskResponse } from '../helpers/deskWebLab.js';
import { freePort } from '../helpers/freePort.js';
import { IpmiSim } from '../helpers/ipmiSim.js';

type Pair = { cookie: string; field: string };

/** A form POST as a browser on the desk's own page sends it; `headers` replace the origin or add to them. */
function postAs(lab: DeskWebLab, who: string, path: string, pair: Pair | undefined, headers: Record<string, string> = {}): Promise<DeskResponse> {
  return lab.request(who, path, {
    method: 'POST',
    body: new URLSearchParams(pair ? { csrf: pair.field } : {}).toString(),
    headers: { ...(pair ? { cookie: pair.cookie } : {}), origin: lab.origin, 'sec-fetch-site': 'same-origin', ...headers },
  });
}

const lastCheck = (body: string) => /<dd class="bmc-check" id="bmc-check">([\s\S]*?)<\/dd>/.exec(body)?.[1] ?? '';

/**
 * "Check the BMC now" on the host page, over real HTTPS with client
 * certificates, on a whole controller whose BMC driver is ipmitool: web-03's
 * BMC is a real ipmi_sim (it answers), web-02's a closed UDP port on this
 * machine (it does not). The check is DeskService's CheckBmc handler: the
 * same recorded check GetHost returns, the same audit entry, the same roles.
 */
describe('checking a host\'s BMC from the desk', () => {
  let lab: DeskWebLab;
  let sim: IpmiSim;
  let grpc: DeskClient;
  const bmcChecks = async (host: string) => (await lab.controller.store.audit.list({ subject: host })).filter((a) => a.action === 'bmc.check');

  beforeAll(async () => {
    sim = await IpmiSim.start();
    lab = await DeskWebLab.start({
      settings: () => ({ bmcDriver: new IpmitoolDriver({ timeoutSeconds: 1, retries: 1, attempts: 1, minIntervalMs: 0 }, { runner: new ExecRunner() }) }),
    });
    const t = sim.target();
    await lab.controller.store.bmcs.set({ hostId: 'web-03', protocol: 'ipmi', address: t.address, port: t.port!, user: t.user, passwordFile: t.passwordFile, sol: false, cipherSuite: undefined });
    const password = join(lab.work, 'bmc-web-02.pw');
    writeFileSync(password, 'secret\n', { mode: 0o600 });
    await lab.controller.store.bmcs.set({ hostId: 'web-02', protocol: 'ipmi', address: '127.0.0.1', port: await freePort(), user: 'cordon', passwordFile: password, sol: true, cipherSuite: undefined });
    grpc = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material('operator-vic') }, { timeoutMs: 5_000 });
  }, 30_000);
  afterAll(async () => {
    grpc?.close();
    await lab?.stop();
    await sim?.stop();
  });

  it('lets a technician check a BMC that answers: 303 back, the page shows the recorded check, GetHost has it, audited under their name', async () => {
    const page = await lab.request('operator-tess', '/hosts/web-03');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<form method="post" action="/hosts/web-03/check-bmc" id="form-check-bmc"');
    expect(page.body).toContain('<button type="submit">Check the BMC now</button>');
    expect(lastCheck(page.body)).toBe('never checked');

    const done = await postAs(lab, 'operator-tess', '/hosts/web-03/check-bmc', csrfOf(page));
    expect(done.status).toBe(303);
    // The result is not in the URL: the page reads it back from the store.
    expect(done.headers.location).toBe('/hosts/web-03?checked=1');

    const after = await lab.request('operator-tess', done.headers.location as string);
    expect(after.body).toContain('<p class="done" id="done">BMC checked just now: see <a href="#bmc-check">Last BMC check</a>.</p>');
    expect(lastCheck(after.body)).toMatch(/^<strong>reachable<\/strong>; Serial-over-LAN not checked \(not required for this host\); took \d+ ms; <time datetime="2026-11-02T09:00:00.000Z">/);
    expect(lastCheck(after.body)).not.toContain('bmc-error');

    const detail = await grpc.call<unknown, HostDetail>('getHost', { id: 'web-03' });
    expect(detail.lastBmcCheck).toMatchObject({ reachable: true, sol: 'not_required', error: '' });
    expect(detail.lastBmcCheck!.checkedAt).toEqual(lab.clock.now());
    expect((await bmcChecks('web-03')).map((a) => ({ actor: a.actor, detail: a.detail }))).toEqual([{ actor: 'tess', detail: { reachable: true, sol: 'not_required', error: null } }]);
  });

  it('shows a BMC that does not answer as unreachable, with SOL and the error in words', async () => {
    lab.clock.advance(60_000);
    const page = await lab.request('operator-tess', '/hosts/web-02');
    expect(page.body).toContain('Serial-over-LAN required');
    const done = await postAs(lab, 'operator-tess', '/hosts/web-02/check-bmc', csrfOf(page));
    expect(done.status).toBe(303);
    const shown = lastCheck((await lab.request('operator-tess', '/hosts/web-02?checked=1')).body);
    expect(shown).toMatch(/^<strong>unreachable<\/strong>; Serial-over-LAN unavailable; took \d+ ms; <time datetime="2026-11-02T09:01:00.000Z">[^<]+<\/time> \(0 s ago, incident clock\)<br><span class="bmc-error">mc info: no answer from the BMC[^<]*<\/span>$/);
    const detail = await grpc.call<unknown, HostDetail>('getHost', { id: 'web-02' });
    expect(detail.lastBmcCheck).toMatchObject({ reachable: false, sol: 'unavailable' });
    expect(detail.lastBmcCheck!.error).not.toBe('');
    // What the page shows is the recorded error, escaped, nothing else.
    expect(shown).toContain(`<span class="bmc-error">${detail.lastBmcCheck!.error.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')}</span>`);
    expect((await bmcChecks('web-02')).map((a) => a.actor)).toEqual(['tess']);
  });

  it('gives a viewer no form, and refuses a viewer\'s forged POST with a valid CSRF pair: nothing checked, nothing audited', async () => {
    const page = await lab.request('operator-vic', '/hosts/web-03');
    expect(page.status).toBe(200);
    expect(page.body).not.toMatch(/<form method="post"/);
    expect(page.body).not.toContain('Check the BMC now');
    const before = await lab.controller.store.bmcs.latest('web-03');
    const audited = (await bmcChecks('web-03')).length;
    // The technician's valid pair: the role is refused before the CSRF check, as over gRPC.
    const pair = csrfOf(await lab.request('operator-tess', '/hosts/web-03'));
    const forged = await postAs(lab, 'operator-vic', '/hosts/web-03/check-bmc', pair);
    expect(forged.status).toBe(403);
    expect(forged.body).toMatch(/DeskService\/CheckBmc needs role technician or above; vic is viewer/);
    expect(await lab.controller.store.bmcs.latest('web-03')).toEqual(before);
    expect(await bmcChecks('web-03')).toHaveLength(audited);
  });

  it('refuses a POST without the CSRF pair, with another operator\'s pair, or from another site: nothing checked', async () => {
    const before = await lab.controller.store.bmcs.latest('web-03');
    const audited = (await bmcChecks('web-03')).length;
    const mine = csrfOf(await lab.request('operator-tess', '/hosts/web-03'));
    const admins = csrfOf(await lab.request('operator-ada', '/hosts/web-03'));
    const none = await postAs(lab, 'operator-tess', '/hosts/web-03/check-bmc', undefined);
    expect(none.status).toBe(403);
    expect(none.body).toMatch(/CSRF check failed/);
    expect((await postAs(lab, 'operator-tess', '/hosts/web-03/check-bmc', admins)).status).toBe(403);
    const crossSite = await postAs(lab, 'operator-tess', '/hosts/web-03/check-bmc', mine, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/did not come from the desk&#39;s own page/);
    expect(await lab.controller.store.bmcs.latest('web-03')).toEqual(before);
    expect(await bmcChecks('web-03')).toHaveLength(audited);
  });

  it('answers an unknown host with 404 in words, and offers no check for a host without a BMC', async () => {
    const pair = csrfOf(await lab.request('operator-tess', '/hosts/web-03'));
    const unknown = await postAs(lab, 'operator-tess', '/hosts/nope%3Cb%3E/check-bmc', pair);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatch(/no host nope&lt;b&gt;/);
    expect(await bmcChecks('nope<b>')).toEqual([]);
    const bare = await lab.request('operator-tess', '/hosts/web-04');
    expect(bare.body).not.toContain('id="form-check-bmc"');
    expect(bare.body).toContain('No BMC is on file for this host, so there is nothing to check');
  });

  it('shows no notice for a crafted ?checked= value', async () => {
    const r = await lab.request('operator-vic', '/hosts/web-03?checked=%3Cb%3Eyes');
    expect(r.body).not.toContain('id="done"');
    expect(r.body).not.toContain('<b>yes');
  });
});

describe('checking a BMC on a controller without a BMC driver', () => {
  let lab: DeskWebLab;
  beforeAll(async () => {
    lab = await DeskWebLab.start();
    await lab.controller.store.bmcs.set({ hostId: 'web-03', protocol: 'ipmi', address: '127.0.0.1', port: 623, user: 'cordon', passwordFile: join(lab.work, 'pw'), sol: false, cipherSuite: undefined });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('answers the handler\'s refusal in words, and records nothing', async () => {
    const page = await lab.request('operator-tess', '/hosts/web-03');
    const r = await postAs(lab, 'operator-tess', '/hosts/web-03/check-bmc', csrfOf(page));
    expect(r.status).toBe(501);
    expect(r.body).toContain('<p class="error">this controller has no BMC driver</p>');
    expect(r.body).toContain('<a href="/hosts/web-03">Back</a>');
    expect(await lab.controller.store.bmcs.latest('web-03')).toBeUndefined();
    expect((await lab.controller.store.audit.list({ subject: 'web-03' })).filter((a) => a.action === 'bmc.check')).toEqual([]);
  });
});
