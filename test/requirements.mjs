// `npm test`'s first step (test/lanes.mjs): the Debian packages the system
// tests run, installed as `npm run demo` installs its own, so that a root run
// on a fresh Debian machine skips nothing. Quick when everything is there
// (one dpkg-query, no apt-get update); says what it installs; never fails the
// run: where it cannot install (not root, not Debian, no network,
// CORDON_TEST_NO_INSTALL=1) it prints why and the command to run, and the
// tests that need a missing tool skip, each saying why.
//
//   node test/requirements.mjs      on its own: the same check and install
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureCrowdsec } from './bench/lib/crowdsec.mjs';

/** Debian package → what the suite does with it. */
export const TEST_PACKAGES = {
  openssl: 'the PKI (cordon-pki)',
  iproute2: 'ip, ss and tc in network namespaces',
  nftables: 'the agent enforcing with nft',
  procps: 'sysctl in the namespaces',
  iperf3: 'the throttle and flood tests',
  ipmitool: 'BMC checks',
  openipmi: 'ipmi_sim, the BMC simulator',
  'openssh-server': 'sshd as the switch (switch driver, switch fallback, the lab)',
  'openssh-client': 'ssh-keygen for the switch keys',
  'dnsmasq-base': 'a real DNS server (DKIM, DNSBL)',
  chromium: 'the browser tests (playwright-core drives Debian chromium)',
  postgresql: 'throw-away clusters for the postgresql lane and the replicas',
  systemd: 'unit verification (systemd-analyze)',
  'util-linux': 'setpriv in the install tests',
  curl: 'the FastNetMon notify script (deploy/alerts/fastnetmon-notify.sh) posting to the alerts listener',
  fastnetmon: 'the FastNetMon alerts end-to-end test (its service is kept from starting: the test runs its own)',
};

/** Packages whose install would start a system daemon the tests run themselves: installed under a policy-rc.d that refuses every service start. */
const NO_SERVICE_START = ['fastnetmon'];

/** The packages of `names` dpkg does not list as installed. */
export function missingPackages(names) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Package}\\n', ...names], { encoding: 'utf8' });
  const installed = new Set(
    (r.stdout ?? '')
      .split('\n')
      .filter((line) => line.startsWith('ii'))
      .map((line) => line.trim().split(/\s+/)[1]?.split(':')[0]),
  );
  return names.filter((n) => !installed.has(n));
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * Installs what is missing, or says why not. Returns what is still missing
 * (empty when the system lane has everything).
 */
export function ensureTestPackages(say = (line) => console.log(line), { uid = process.getuid?.(), packages = TEST_PACKAGES } = {}) {
  const names = Object.keys(packages);
  const crowdsecMissing = !has('crowdsec') || !has('cscli');
  if (!has('dpkg-query') || !has('apt-get')) {
    say(`test requirements: not a Debian system (no dpkg-query/apt-get); the system tests need the equivalents of: ${names.join(' ')} and crowdsec; those without them skip, saying why`);
    return names;
  }
  const missing = missingPackages(names);
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (missing.length === 0 && !crowdsecMissing) return [];
  const wanted = [...missing, ...(crowdsecMissing ? ['crowdsec'] : [])];
  if (process.env.CORDON_TEST_NO_INSTALL === '1') {
    say(`test requirements: CORDON_TEST_NO_INSTALL=1, not installing ${wanted.join(', ')}; the tests needing them skip${missing.length ? ` (install: ${command})` : ''}`);
    return wanted;
  }
  if (uid !== 0) {
    say(`test requirements: not root, so not installing ${wanted.join(', ')}; the system tests need root anyway and skip, saying why. As root: sudo npm test (installs them), or ${missing.length ? `sudo ${command}` : 'sudo node test/requirements.mjs'}`);
    return wanted;
  }
  if (missing.length > 0) {
    say(`test requirements: installing missing Debian packages for the system tests: ${command}`);
    for (const m of missing) say(`  ${m}: ${packages[m]}`);
    const policy = '/usr/sbin/policy-rc.d';
    const ownPolicy = missing.some((m) => NO_SERVICE_START.includes(m)) && !existsSync(policy);
    // The whole batch installs under it: no package it holds starts a service here.
    if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# Cordon tests: no service starts while their packages install\nexit 101\n', { mode: 0o755 });
    try {
      execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${command} -qq`], { stdio: 'inherit' });
    } catch (err) {
      say(`test requirements: ${command} failed (${err.message.split('\n')[0]}); the tests needing them skip, saying why`);
    } finally {
      if (ownPolicy) rmSync(policy, { force: true });
    }
  }
  if (crowdsecMissing) {
    try {
      // The alerts end-to-end test (test/system/alertsCrowdsec.test.ts), offline as CI installs it.
      ensureCrowdsec({ install: true, bouncer: false, say: (line) => say(`test requirements: ${line}`) });
    } catch (err) {
      say(`test requirements: crowdsec could not be installed (${err.message}); its test skips, saying why`);
    }
  }
  const still = [...missingPackages(names), ...(!has('crowdsec') || !has('cscli') ? ['crowdsec'] : [])];
  say(still.length === 0 ? 'test requirements: every Debian package the system tests use is installed' : `test requirements: still missing ${still.join(', ')}`);
  return still;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureTestPackages();
