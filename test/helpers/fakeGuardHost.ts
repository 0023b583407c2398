import type { BanEvent, ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { Guard } from '../../agent/guard/Guard.js';
import { GuardStateFile } from '../../agent/guard/GuardStateFile.js';
import type { CommandRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger, type Logger } from '../../proto/runtime/logger.js';

export const T0 = Date.parse('2026-12-07T10:00:00Z');
export const policy = (over: Partial<ManagedSecurity> = {}): ManagedSecurity => ({
  enabled: true,
  services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 10, burst: 5 }],
  baseBanSeconds: 600,
  maxBanSeconds: 86_400,
  forgetAfterSeconds: 86_400,
  allowed: [],
  liftedBanIds: [],
  maxBans: 0,
  listenerCheckSeconds: 0,
  authFailures: 0,
  authWindowSeconds: 600,
  // An older controller's policy unless a test says otherwise: a ban event handed to the stream is done.
  acknowledgesBanEvents: false,
  ...over,
});

/**
 * A host whose kernel ban set is a Set the test fills and empties (nft's
 * JSON listing made from it), and a link that is up or down.
 */
export function fakeGuardHost(dir: string, log: Logger = silentLogger()) {
  const kernel = new Set<string>();
  const runner: CommandRunner = {
    async run(command, args, opts) {
      // The guard's own deletions (a lift) leave the set; its additions (a grown time) stay in it.
      for (const [, verb, address] of (opts?.input ?? '').matchAll(/^(add|delete) element inet cordon_guard ban_v[46] \{ (\S+)/gm)) {
        if (verb === 'delete') kernel.delete(address!);
        else kernel.add(address!);
      }
      if (command !== 'nft' || args[0] !== '-j') return { code: 0, stdout: '', stderr: '' };
      const family = args.at(-1) === 'ban_v6' ? 6 : 4;
      const elem = [...kernel].filter((a) => (a.includes(':') ? 6 : 4) === family).map((val) => ({ elem: { val, expires: 500 } }));
      return { code: 0, stdout: JSON.stringify({ nftables: [{ set: { family: 'inet', name: `ban_v${family}`, table: 'cordon_guard', elem } }] }), stderr: '' };
    },
  };
  const sent: BanEvent[] = [];
  const link = { up: true };
  let now = T0;
  const make = () =>
    new Guard({
      runner,
      log,
      clock: () => new Date(now),
      publicInterfaces: ['pub0'],
      managementNetworks: [],
      file: new GuardStateFile(dir),
      send: async (e) => (link.up ? (sent.push(e), true) : false),
      tickMs: 3_600_000,
    });
  const seen = () => sent.map((e) => `${e.change} ${e.address}`);
  return { kernel, link, sent, seen, make, advance: (ms: number) => (now += ms), now: () => now };
}

