import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import { GUARD_TABLE, banSet, meterSet, renderRemoveBans } from './guardRuleset.js';
import type { Ban } from './GuardStateFile.js';
import { readGuardSets, type GuardListing } from './readGuardSets.js';

// The guard table's sets in the kernel, read and changed through the runner: Guard.ts decides, this talks to nft.

/** The whole table (bans and meters), or undefined when it is gone. */
export async function listTable(runner: CommandRunner): Promise<GuardListing | undefined> {
  const listed = await runner.run('nft', ['-j', 'list', 'table', ...GUARD_TABLE.split(' ')]);
  return listed.code === 0 ? readGuardSets(listed.stdout) : undefined;
}

/**
 * The two ban sets only, each tick: the meters hold every source that
 * connected lately (up to 65,535 per service and family on a busy web
 * server) and are read only when a new ban needs its services named.
 */
export async function listBans(runner: CommandRunner): Promise<GuardListing | undefined> {
  const out: GuardListing = { bans: new Map(), meters: new Map() };
  for (const family of [4, 6] as const) {
    const listed = await runner.run('nft', ['-j', 'list', 'set', ...GUARD_TABLE.split(' '), banSet(family)]);
    if (listed.code !== 0) return undefined;
    for (const [address, ban] of readGuardSets(listed.stdout).bans) out.bans.set(address, ban);
  }
  return out;
}

/** Deletes elements one at a time (one that ran out meanwhile fails alone), then checks none is left. */
export async function removeFromSet(runner: CommandRunner, bans: Ban[]): Promise<void> {
  for (const ban of bans) await runner.run('nft', ['-f', '-'], { input: renderRemoveBans([ban]) });
  const left = (await listTable(runner))?.bans;
  const still = bans.filter((b) => left?.has(b.address));
  if (still.length > 0) await runChecked(runner, 'nft', ['-f', '-'], { input: renderRemoveBans(still) });
}

/**
 * Empties the lifted sources' meters: a source still over its rate would
 * otherwise be banned again by its very next connection. Best effort: a
 * meter entry that ran out meanwhile is gone already.
 */
export async function resetMeters(runner: CommandRunner, bans: Ban[]): Promise<void> {
  const meters = (await listTable(runner))?.meters;
  for (const ban of bans) {
    for (const service of meters?.get(ban.address) ?? []) {
      await runner.run('nft', ['delete', 'element', ...GUARD_TABLE.split(' '), meterSet(service, ban.family), `{ ${ban.address} }`]);
    }
  }
}
