import { describe, expect, it } from 'vitest';
import { iosProfile, parseIosStatus } from '../../../controller/switch/iosProfile.js';
import { junosProfile, parseJunosTerse } from '../../../controller/switch/junosProfile.js';
import { linuxProfile, parseIpLinkJson } from '../../../controller/switch/linuxProfile.js';
import { profileFor } from '../../../controller/switch/profileFor.js';

const commands = (steps: { command: string }[]) => steps.map((s) => s.command);

describe('linux profile', () => {
  it('sets the port with one ip link command and reads it back as JSON', () => {
    expect(commands(linuxProfile.setSteps('swp1', false))).toEqual(['ip link set dev swp1 down']);
    expect(commands(linuxProfile.setSteps('swp1', true))).toEqual(['ip link set dev swp1 up']);
    expect(linuxProfile.readStep('swp1').command).toBe('ip -j link show dev swp1');
    expect(profileFor('linux')).toBe(linuxProfile);
  });

  it('reads admin state from the UP flag, not from carrier or operstate', () => {
    const up = '[{"ifindex":5,"ifname":"swp1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP"}]';
    const upNoCarrier = '[{"ifindex":5,"ifname":"swp1","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"operstate":"DOWN"}]';
    const down = '[{"ifindex":5,"ifname":"swp1","flags":["BROADCAST","MULTICAST"],"mtu":1500,"operstate":"DOWN"}]';
    expect(parseIpLinkJson('swp1', up)).toBe(true);
    expect(parseIpLinkJson('swp1', upNoCarrier)).toBe(true);
    expect(parseIpLinkJson('swp1', down)).toBe(false);
    expect(parseIpLinkJson('swp2', up)).toBeUndefined();
    expect(parseIpLinkJson('swp1', 'Device "swp1" does not exist.')).toBeUndefined();
    expect(parseIpLinkJson('swp1', '{}')).toBeUndefined();
  });
});

describe('IOS profile', () => {
  it('enters interface configuration, shuts or opens, and ends, checking each prompt', () => {
    expect(commands(iosProfile.setSteps('GigabitEthernet1/0/5', false))).toEqual(['configure terminal', 'interface GigabitEthernet1/0/5', 'shutdown', 'end']);
    expect(commands(iosProfile.setSteps('GigabitEthernet1/0/5', true))).toEqual(['configure terminal', 'interface GigabitEthernet1/0/5', 'no shutdown', 'end']);
    expect(iosProfile.readStep('Gi1/0/5').command).toBe('show interfaces Gi1/0/5 status');
    expect(commands(iosProfile.setup)).toEqual(['terminal length 0']);
    expect(commands(iosProfile.recover)).toEqual(['end']);
    const [conf, intf, , end] = iosProfile.setSteps('Gi1/0/5', false);
    expect(conf!.expectPrompt!.test('sw1(config)#')).toBe(true);
    expect(intf!.expectPrompt!.test('sw1(config)#')).toBe(false);
    expect(intf!.expectPrompt!.test('sw1(config-if)#')).toBe(true);
    expect(end!.expectPrompt!.test('sw1#')).toBe(true);
    expect(end!.expectPrompt!.test('sw1>')).toBe(false);
  });

  it('recognises its prompts at the end of the output only', () => {
    for (const p of ['sw-a1#', 'sw-a1>', 'sw-a1(config)#', 'sw-a1(config-if)#', 'core.dc1(config-if-range)#']) {
      expect(iosProfile.prompt.test(`some output\n${p}`)).toBe(true);
    }
    expect(iosProfile.prompt.test('sw-a1#show run\nBuilding configuration...')).toBe(false);
    expect(iosProfile.configPrompt.test('sw-a1(config-if)#')).toBe(true);
    expect(iosProfile.configPrompt.test('sw-a1#')).toBe(false);
  });

  it('recognises refusals but not syslog lines', () => {
    expect(iosProfile.findError("                  ^\n% Invalid input detected at '^' marker.\n")).toBe("% Invalid input detected at '^' marker.");
    expect(iosProfile.findError('% Ambiguous command:  "sh"\n')).toBe('% Ambiguous command:  "sh"');
    expect(iosProfile.findError('% Incomplete command.\n')).toBe('% Incomplete command.');
    expect(iosProfile.findError('Enter configuration commands, one per line.  End with CNTL/Z.\n')).toBeUndefined();
    expect(iosProfile.findError('*Mar  1 00:01:02.345: %LINK-5-CHANGED: Interface GigabitEthernet1/0/5, changed state to administratively down\n')).toBeUndefined();
  });

  const header = 'Port      Name               Status       Vlan       Duplex  Speed Type';
  it.each([
    ['Gi1/0/5   web-01 public      disabled     10           auto   auto 10/100/1000BaseTX', false],
    ['Gi1/0/5   web-01 public      connected    10         a-full a-1000 10/100/1000BaseTX', true],
    ['Gi1/0/5   web-01 public      notconnect   10           auto   auto 10/100/1000BaseTX', true],
    ['Gi1/0/5                      err-disabled 10           auto   auto 10/100/1000BaseTX', true],
    // A description holding the word "disabled" must not be read as the status.
    ['Gi1/0/5   disabled by olga   connected    10         a-full a-1000 10/100/1000BaseTX', true],
    ['Gi1/0/5   web-01             weird-state  10           auto   auto 10/100/1000BaseTX', undefined],
  ])('reads `show interfaces status` row %j as admin-up %s', (row, want) => {
    const transcript = `\n${header}\n${row}\n\n`;
    expect(parseIosStatus('GigabitEthernet1/0/5', transcript)).toBe(want);
    expect(parseIosStatus('Gi1/0/5', transcript)).toBe(want);
  });

  it('finds no state for another port or for a refused show', () => {
    expect(parseIosStatus('Gi1/0/6', `${header}\nGi1/0/5   web-01   disabled     10  auto auto 10/100/1000BaseTX\n`)).toBeUndefined();
    expect(parseIosStatus('Gi1/0/99', "                        ^\n% Invalid input detected at '^' marker.\n")).toBeUndefined();
  });
});

describe('Junos profile', () => {
  it('configures privately, sets or deletes disable, commits and exits', () => {
    expect(commands(junosProfile.setSteps('ge-0/0/5', false))).toEqual(['configure private', 'set interfaces ge-0/0/5 disable', 'commit', 'exit']);
    expect(commands(junosProfile.setSteps('ge-0/0/5', true))).toEqual(['configure private', 'delete interfaces ge-0/0/5 disable', 'commit', 'exit']);
    expect(junosProfile.readStep('ge-0/0/5').command).toBe('show interfaces ge-0/0/5 terse');
    expect(commands(junosProfile.recover)).toEqual(['rollback 0', 'exit']);
    expect(commands(junosProfile.setup)).toEqual(['set cli screen-length 0', 'set cli screen-width 1024', 'set cli complete-on-space off']);
    const commit = junosProfile.setSteps('ge-0/0/5', false)[2]!;
    expect(commit.expect!.test('commit complete\n')).toBe(true);
    expect(commit.expect!.test('error: configuration check-out failed\n')).toBe(false);
  });

  it('recognises its prompts and refusals, and treats warnings as accepted', () => {
    expect(junosProfile.prompt.test('\n[edit]\ncordon@sw-b2# ')).toBe(true);
    expect(junosProfile.prompt.test('cordon@sw-b2> ')).toBe(true);
    expect(junosProfile.configPrompt.test('cordon@sw-b2# ')).toBe(true);
    expect(junosProfile.configPrompt.test('cordon@sw-b2> ')).toBe(false);
    expect(junosProfile.findError('error: configuration check-out failed\n')).toBe('error: configuration check-out failed');
    expect(junosProfile.findError('                                  ^\nsyntax error.\n')).toBe('syntax error.');
    expect(junosProfile.findError('         ^\nunknown command.\n')).toBe('unknown command.');
    expect(junosProfile.findError('commit complete\n')).toBeUndefined();
    expect(junosProfile.findError('warning: statement not found\n')).toBeUndefined();
  });

  const header = 'Interface               Admin Link Proto    Local                 Remote';
  it('reads the Admin column of the physical port, not its units', () => {
    expect(parseJunosTerse('ge-0/0/5', `${header}\nge-0/0/5                down  down\nge-0/0/5.0              down  down eth-switch\n`)).toBe(false);
    expect(parseJunosTerse('ge-0/0/5', `${header}\nge-0/0/5                up    up\nge-0/0/5.0              up    up   eth-switch\n`)).toBe(true);
    // Admin up, no link: still admin-up.
    expect(parseJunosTerse('ge-0/0/5', `${header}\nge-0/0/5                up    down\n`)).toBe(true);
    expect(parseJunosTerse('ge-0/0/5', `${header}\nge-0/0/5.0              down  down eth-switch\n`)).toBeUndefined();
    expect(parseJunosTerse('ge-0/0/99', 'error: device ge-0/0/99 not found\n')).toBeUndefined();
  });
});
